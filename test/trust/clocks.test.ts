// Deadline arithmetic across weekends and DST changes (Europe/Berlin leaves summer time on
// 2026-10-25 and enters it on 2026-03-29; America/New_York leaves it on 2026-11-01).
import { expect } from 'chai';
import { addBusinessDays, addHours } from '../../src/modules/trust/clocks.js';

describe('trust: deadline clocks', () => {
  it('5 business days skip the weekend: Thursday -> next Thursday, Friday -> next Friday, Saturday and Sunday -> Friday', () => {
    expect(addBusinessDays(new Date('2026-12-03T09:30:00Z'), 5).toISOString()).to.equal('2026-12-10T09:30:00.000Z');
    expect(addBusinessDays(new Date('2026-12-04T17:00:00Z'), 5).toISOString()).to.equal('2026-12-11T17:00:00.000Z');
    expect(addBusinessDays(new Date('2026-12-05T08:00:00Z'), 5).toISOString()).to.equal('2026-12-11T08:00:00.000Z');
    expect(addBusinessDays(new Date('2026-12-06T23:59:00Z'), 5).toISOString()).to.equal('2026-12-11T23:59:00.000Z');
  });

  it('business days keep the local time of day across a DST change (the UTC instant moves by the offset)', () => {
    // Friday 23 Oct 2026 10:00 CEST (UTC+2) -> Friday 30 Oct 10:00 CET (UTC+1).
    expect(addBusinessDays(new Date('2026-10-23T08:00:00Z'), 5, 'Europe/Berlin').toISOString()).to.equal('2026-10-30T09:00:00.000Z');
    // Thursday 26 Mar 2026 10:00 CET -> Thursday 2 Apr 10:00 CEST.
    expect(addBusinessDays(new Date('2026-03-26T09:00:00Z'), 5, 'Europe/Berlin').toISOString()).to.equal('2026-04-02T08:00:00.000Z');
    // The weekend is the team's local weekend: Friday 23:30 in New York is Saturday in UTC.
    expect(addBusinessDays(new Date('2026-10-31T03:30:00Z'), 5, 'America/New_York').toISOString()).to.equal('2026-11-07T04:30:00.000Z');
  });

  it('hour deadlines are elapsed time: 72 h across the DST change is 72 real hours, not three wall-clock days', () => {
    const aware = new Date('2026-10-24T10:00:00+02:00');
    const due = addHours(aware, 72);
    expect(due.getTime() - aware.getTime()).to.equal(72 * 3600_000);
    expect(due.toISOString()).to.equal('2026-10-27T08:00:00.000Z');
    // 09:00 local on the 27th (CET), one wall-clock hour earlier than a naive "+3 days at 10:00".
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(due)).to.equal('09:00');
  });
});
