// Which backups a grandfather-father-son policy keeps: the newest backup of each of the last N
// days, M ISO weeks and K months (UTC), as restic and borg count them. Pure, so it is easy to test.
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => d.toISOString().slice(0, 7);
/** ISO 8601 week, e.g. "2026-W48" (weeks start on Monday; week 1 holds the first Thursday). */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Returns the ids to keep; the newest backup is always kept so a policy of zeros cannot erase everything. */
export function selectRetained<T extends { id: string; startedAt: Date }>(backups: T[], policy: RetentionPolicy): Set<string> {
  const newestFirst = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].id);
  const bucket = (count: number, keyOf: (d: Date) => string) => {
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= count) break;
      const k = keyOf(backup.startedAt);
      if (seen.has(k)) continue;
      seen.add(k);
      keep.add(backup.id);
    }
  };
  bucket(policy.daily, day);
  bucket(policy.weekly, isoWeek);
  bucket(policy.monthly, month);
  return keep;
}
