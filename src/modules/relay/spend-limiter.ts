// Monthly spending limits that hold under concurrency. Before a call, the worst-case cost is
// reserved with one Lua script (atomic in Redis: no two calls can both see room for one), one
// round trip (EVALSHA); after it, the reservation is settled to the real cost. PostgreSQL's
// relay_spend is the ledger of record: when the Redis counter is missing (first call of the
// month, or Redis lost its data) the script answers "missing" without reserving, the caller
// reads the ledger and reserves again with it as the seed (a second round trip, that month's
// first call only), so a Redis restart forgets at most the reservations in flight and the
// settlements not yet written to the ledger. Values are micro-cents; the counter holds numbers only.
import type { Redis } from 'ioredis';

const RESERVE = `
local current = redis.call('GET', KEYS[1])
if not current then
  if ARGV[3] == '' then
    return {-1, '0'}
  end
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

type Scripted = Redis & {
  custosRelayReserve(key: string, amount: string, limit: string, seed: string, ttl: string): Promise<[number, string]>;
  custosRelaySettle(key: string, delta: string): Promise<number>;
};

export function createSpendLimiter(redis: Redis, keyPrefix: string) {
  const counter = (groupId: string, period: string) => `${keyPrefix}:relay:spend:${groupId}:${period}`;
  // defineCommand sends EVALSHA (the script body only once per connection, on NOSCRIPT).
  const scripted = redis as Scripted;
  if (typeof scripted.custosRelayReserve !== 'function') {
    redis.defineCommand('custosRelayReserve', { numberOfKeys: 1, lua: RESERVE });
    redis.defineCommand('custosRelaySettle', { numberOfKeys: 1, lua: SETTLE });
  }
  return {
    /**
     * Reserves `amount` if it fits under `limit`. `ledgerMicrocents` seeds a missing counter;
     * without it, a missing counter is answered `missing` and nothing is reserved.
     */
    async reserve(groupId: string, period: string, amountMicrocents: number, limitMicrocents: number, ledgerMicrocents?: number): Promise<Reservation & { missing?: boolean }> {
      const [ok, used] = await scripted.custosRelayReserve(counter(groupId, period),
        String(Math.ceil(amountMicrocents)), String(limitMicrocents), ledgerMicrocents === undefined ? '' : String(ledgerMicrocents), String(COUNTER_TTL_SECONDS));
      if (ok === -1) return { ok: false, missing: true, usedMicrocents: 0 };
      return { ok: ok === 1, usedMicrocents: Number(used) };
    },
    /** Replaces a reservation by the real cost (delta may be negative). */
    async settle(groupId: string, period: string, deltaMicrocents: number): Promise<void> {
      if (deltaMicrocents === 0) return;
      await scripted.custosRelaySettle(counter(groupId, period), String(Math.round(deltaMicrocents)));
    },
  };
}

export type SpendLimiter = ReturnType<typeof createSpendLimiter>;
