// Monthly spending limits that hold under concurrency. Before a call, the worst-case cost is
// reserved with one Lua script (atomic in Redis: no two calls can both see room for one); after
// it, the reservation is settled to the real cost. PostgreSQL's relay_spend is the ledger of
// record: when the Redis counter is missing (first call of the month, or Redis lost its data)
// the script seeds it from the ledger value the caller read, so a Redis restart forgets at most
// the reservations in flight. Values are micro-cents; the counter holds numbers only.
import type { Redis } from 'ioredis';

const RESERVE = `
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
  current = ARGV[3]
end
current = tonumber(current)
local amount = tonumber(ARGV[1])
if current + amount > tonumber(ARGV[2]) then
  return {0, tostring(current)}
end
redis.call('INCRBY', KEYS[1], ARGV[1])
return {1, tostring(current + amount)}
`;

const SETTLE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return 0
`;

// A month's counter outlives the month by a few days, then Redis drops it.
const COUNTER_TTL_SECONDS = 40 * 86_400;

/** "2026-12": the calendar month (UTC) limits are counted in. */
export const spendPeriod = (at = new Date()) => at.toISOString().slice(0, 7);

export interface Reservation {
  ok: boolean;
  /** Reserved plus spent in the period, after this reservation if it succeeded (micro-cents). */
  usedMicrocents: number;
}

export function createSpendLimiter(redis: Redis, keyPrefix: string) {
  const counter = (groupId: string, period: string) => `${keyPrefix}:relay:spend:${groupId}:${period}`;
  return {
    async reserve(groupId: string, period: string, amountMicrocents: number, limitMicrocents: number, ledgerMicrocents: number): Promise<Reservation> {
      const [ok, used] = await redis.eval(RESERVE, 1, counter(groupId, period),
        String(Math.ceil(amountMicrocents)), String(limitMicrocents), String(ledgerMicrocents), String(COUNTER_TTL_SECONDS)) as [number, string];
      return { ok: ok === 1, usedMicrocents: Number(used) };
    },
    /** Replaces a reservation by the real cost (delta may be negative). */
    async settle(groupId: string, period: string, deltaMicrocents: number): Promise<void> {
      if (deltaMicrocents === 0) return;
      await redis.eval(SETTLE, 1, counter(groupId, period), String(Math.round(deltaMicrocents)));
    },
  };
}

export type SpendLimiter = ReturnType<typeof createSpendLimiter>;
