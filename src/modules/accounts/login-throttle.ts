// Brute-force limits on login: failed attempts are counted per account and per client IP in
// Redis (fixed windows). Past either limit, login answers 429 with Retry-After until the window
// ends, even for the right password. Redis holds only hashes of emails, never the address.
import type { Redis } from 'ioredis';
import { sha256 } from '../../platform/crypto/hashing.js';
import { TooManyRequestsError } from '../../platform/http/problem.js';

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

export function createLoginThrottle(redis: Redis, prefix: string, limits: ThrottleLimits) {
  const accountKey = (kind: string, email: string) => `${prefix}:login-failures:account:${sha256(`${kind}:${email}`).toString('hex')}`;
  const ipKey = (ip: string) => `${prefix}:login-failures:ip:${ip}`;

  return {
    /** Throws 429 when either counter is at its limit. */
    async assertAllowed(kind: string, email: string, ip: string): Promise<void> {
      const keys = [accountKey(kind, email), ipKey(ip)];
      const [[, accountCount], [, accountTtl], [, ipCount], [, ipTtl]] = (await redis.multi()
        .get(keys[0]).ttl(keys[0]).get(keys[1]).ttl(keys[1]).exec())! as Array<[Error | null, string | number | null]>;
      const waits: number[] = [];
      if (Number(accountCount ?? 0) >= limits.perAccount) waits.push(Number(accountTtl));
      if (Number(ipCount ?? 0) >= limits.perIp) waits.push(Number(ipTtl));
      if (waits.length) {
        throw new TooManyRequestsError('Too many failed logins; wait before trying again.', Math.max(...waits.map((t) => (t > 0 ? t : limits.windowSeconds))));
      }
    },

    async recordFailure(kind: string, email: string, ip: string): Promise<void> {
      const multi = redis.multi();
      for (const key of [accountKey(kind, email), ipKey(ip)]) {
        multi.incr(key).expire(key, limits.windowSeconds, 'NX');
      }
      await multi.exec();
    },

    async recordSuccess(kind: string, email: string): Promise<void> {
      await redis.del(accountKey(kind, email));
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
