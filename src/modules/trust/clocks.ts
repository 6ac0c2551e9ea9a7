// Deadline arithmetic. Hour deadlines (GDPR Art. 33's 72 hours, the 24-hour promises) are
// elapsed time: 72 h after awareness is 72 real hours even across a DST change. Business-day
// deadlines count working days in the team's time zone: the same local time of day, weekends
// (Saturday, Sunday) skipped, so a DST change moves the UTC instant by the offset change.

export const addHours = (from: Date, hours: number) => new Date(from.getTime() + hours * 3600_000);

interface WallTime { year: number; month: number; day: number; hour: number; minute: number; second: number; ms: number }

function wallTimeIn(timeZone: string, at: Date): WallTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second'), ms: at.getUTCMilliseconds() };
}

const asUtc = (w: WallTime) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.ms);

/** The instant at which the clocks of `timeZone` show `wall` (the earlier one when it is ambiguous). */
function instantOf(timeZone: string, wall: WallTime): Date {
  let guess = asUtc(wall);
  for (let i = 0; i < 3; i++) {
    const offset = asUtc(wallTimeIn(timeZone, new Date(guess))) - guess;
    guess = asUtc(wall) - offset;
  }
  return new Date(guess);
}

/** `days` working days after `from`, at the same local time in `timeZone`; a weekend start counts from Monday. */
export function addBusinessDays(from: Date, days: number, timeZone = 'UTC'): Date {
  const wall = wallTimeIn(timeZone, from);
  const date = new Date(Date.UTC(wall.year, wall.month - 1, wall.day));
  const isWeekend = () => date.getUTCDay() === 0 || date.getUTCDay() === 6;
  let remaining = days;
  while (remaining > 0) {
    date.setUTCDate(date.getUTCDate() + 1);
    if (!isWeekend()) remaining -= 1;
  }
  return instantOf(timeZone, { ...wall, year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() });
}

export interface Deadline {
  kind: string;
  dueAt: Date;
  /** When the obligation was met; null while open. */
  metAt: Date | null;
}

/** Overdue is derived, never stored: open past its due time, or met late. */
export const isOverdue = (d: Deadline, now = new Date()) => (d.metAt ? d.metAt > d.dueAt : now > d.dueAt);
