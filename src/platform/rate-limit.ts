// Fixed-window attempt counters in Redis, taken atomically. A check-then-count limiter lets
// parallel requests all pass the check before any of them is counted (issue 12: 100 parallel
// logins made 100 guesses against a limit of 5). Here one Lua script checks every counter and
// increments all of them in the same step, so of N simultaneous attempts at most `limit` pass.
// The script runs on one Redis node: callers keep all the keys of one call under one hash tag
// (`{…}`), so it also works on Redis Cluster.
import type { Redis } from 'ioredis';

export interface AttemptCounter {
  key: string;
  limit: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

// KEYS: the counters. ARGV[1]: window (s); ARGV[2..]: the limit of each key.
// Refuses (returning the longest remaining TTL) when any counter is at its limit; otherwise
// increments every counter, starting its window on the first attempt.
const TAKE = `
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then
      redis.call('EXPIRE', key, window)
      ttl = window
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, window, 'NX')
end
return 0
`;

// KEYS: ARGV[1] keys to delete (reset), then keys to give one attempt back (refund). A refund
// never goes below zero and keeps the window's TTL.
const SETTLE = `
local resets = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= resets then
    redis.call('DEL', key)
  elseif tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
`;

type ScriptClient = Redis & {
  custosTakeAttempt(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
  custosSettleAttempt(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
};

export function createAttemptCounters(redis: Redis) {
  // defineCommand sends EVALSHA and falls back to EVAL when Redis lost the script (a restart).
  if (!('custosTakeAttempt' in redis)) {
    redis.defineCommand('custosTakeAttempt', { lua: TAKE });
    redis.defineCommand('custosSettleAttempt', { lua: SETTLE });
  }
  const client = redis as ScriptClient;

  return {
    /** One attempt on every counter, or none when any of them is spent. */
    async take(counters: AttemptCounter[], windowSeconds: number): Promise<TakeResult> {
      const wait = Number(await client.custosTakeAttempt(counters.length, ...counters.map((c) => c.key), windowSeconds, ...counters.map((c) => c.limit)));
      return wait > 0 ? { allowed: false, retryAfterSeconds: wait } : { allowed: true };
    },

    /** Deletes `reset` counters and gives one attempt back to `refund` counters, in one step. */
    async settle(reset: string[], refund: string[]): Promise<void> {
      if (reset.length + refund.length === 0) return;
      await client.custosSettleAttempt(reset.length + refund.length, ...reset, ...refund, reset.length);
    },
  };
}

export type AttemptCounters = ReturnType<typeof createAttemptCounters>;
