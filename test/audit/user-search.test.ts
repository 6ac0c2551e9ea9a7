// GET /api/v1/admin/users?email=: how staff get the user id every other staff route needs.
// Every staff role may search, always with a reason; the search is in the trail before any
// answer, and when the trail cannot be written, nothing is answered.
import { expect } from 'chai';
import { api } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createStaff, createUser, uniqueEmail, type TestStaff } from '../support/accounts.js';
import { STAFF_ROLES } from '../../src/platform/http/auth.js';
import { reasonHeaders, trail } from './helpers.js';

describe('audit: staff find a user by email', () => {
  let support: TestStaff;
  let dpo: TestStaff;
  before(async () => {
    [support, dpo] = await Promise.all([createStaff('support'), createStaff('dpo')]);
  });

  const search = (staff: TestStaff, email: string, headers: Record<string, string> = reasonHeaders('TICKET-9 find the account')) =>
    api().get('/api/v1/admin/users').query({ email }).set(staff.auth).set(headers);

  it('finds the account by its email, normalised as at registration, and records the search first', async () => {
    const user = await createUser('findme');
    const res = await search(support, `  ${user.email.toUpperCase()} `);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.items).to.have.length(1);
    expect(res.body.items[0]).to.include({ id: user.id, email: user.email, status: 'active' });
    const events = await trail(dpo, { userId: user.id });
    expect(events).to.have.length(1);
    expect(events[0]).to.include({
      action: 'admin.users.search', outcome: 'allowed', reason: 'support_request',
      justification: 'TICKET-9 find the account', subjectUserId: user.id, detail: 'email search: 1 match',
    });
    expect(events[0].actor).to.include({ staffId: support.id, role: 'support' });
    expect(events[0].requestId).to.equal(res.headers['x-request-id']);
    // The user sees the search in their own access log.
    const log = await api().get('/api/v1/me/access-log').set(user.auth);
    expect(log.body.items.map((e: { action: string }) => e.action)).to.include('admin.users.search');
  });

  it('answers an unknown email with an empty list (not 404), and records that search too', async () => {
    const res = await search(support, uniqueEmail('nobody'));
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({ items: [] });
    const events = await trail(dpo, { action: 'admin.users.search' });
    const mine = events.find((e) => e.requestId === res.headers['x-request-id']);
    expect(mine).to.include({ outcome: 'allowed', subjectUserId: null, detail: 'email search: 0 matches' });
  });

  it('is an exact match: a prefix or another address finds nothing', async () => {
    const user = await createUser('exact');
    expect((await search(support, user.email.slice(0, -2))).body.items).to.deep.equal([]);
    expect((await search(support, `x${user.email}`)).body.items).to.deep.equal([]);
  });

  it('is open to every staff role (support, dpo, security, admin), never to a user session', async () => {
    const user = await createUser('roles');
    for (const role of STAFF_ROLES) {
      const staff = await createStaff(role);
      const res = await search(staff, user.email);
      expect(res.status, `${role}: ${JSON.stringify(res.body)}`).to.equal(200);
      expect(res.body.items[0].id, role).to.equal(user.id);
    }
    const asUser = await api().get('/api/v1/admin/users').query({ email: user.email }).set(user.auth).set(reasonHeaders());
    expect([401, 403]).to.include(asUser.status);
  });

  it('refuses a search without a reason (400, nothing returned) and records it as denied', async () => {
    const user = await createUser('noreason');
    const res = await search(support, user.email, { 'X-Access-Justification': 'x' });
    expect(res.status).to.equal(400);
    expect(JSON.stringify(res.body)).not.to.contain(user.id);
    const events = await trail(dpo, { staffId: support.id, action: 'admin.users.search', outcome: 'denied' });
    expect(events.some((e) => e.requestId === res.headers['x-request-id'])).to.equal(true);
  });

  it('fails closed: when the audit insert fails, the search fails and names nobody', async () => {
    const user = await createUser('search-fail-closed');
    const db = privilegedDb(); // renaming the trail needs its owner's rights
    await db.raw('ALTER TABLE audit_events RENAME TO audit_events_unavailable');
    try {
      const res = await search(support, user.email);
      expect(res.status).to.be.at.least(500);
      expect(JSON.stringify(res.body)).not.to.contain(user.id);
      expect(JSON.stringify(res.body)).not.to.contain(user.email);
    } finally {
      await db.raw('ALTER TABLE audit_events_unavailable RENAME TO audit_events');
    }
    expect(await trail(dpo, { userId: user.id })).to.have.length(0);
  });
});
