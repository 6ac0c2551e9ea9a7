// Per-IP limit on the anonymous trust-centre routes: a fixed one-minute window counted in Redis,
// so every replica shares the budget. Redis holds the client IP only for the window's minute.
import type { Redis } from 'ioredis';
import { TooManyRequestsError } from '../../platform/http/problem.js';

export function createPublicRateLimit(redis: Redis, prefix: string, perMinute: number) {
  return {
    async assertAllowed(ip: string): Promise<void> {
      const window = Math.floor(Date.now() / 60_000);
      const key = `${prefix}:trust-rate:${window}:${ip}`;
      const [[, count]] = (await redis.multi().incr(key).expire(key, 61).exec())! as Array<[Error | null, number]>;
      if (count > perMinute) {
        throw new TooManyRequestsError(`More than ${perMinute} requests a minute from your address to the public trust centre; wait before trying again.`, 60 - (Date.now() / 1000) % 60);
      }
    },
  };
}

export type PublicRateLimit = ReturnType<typeof createPublicRateLimit>;
