// Limits on POST /auth/register, per client IP and per email. Registration answers "an account
// with this email exists already" (a deliberate usability trade-off, see the README), so without
// a limit it is an enumeration oracle, and each attempt costs a bcrypt hash. Every attempt that
// reaches the check counts, successful or not (a success from one address is still one more
// account from it). Redis holds only a hash of the email.
import type { Redis } from 'ioredis';
import { sha256 } from '../../platform/crypto/hashing.js';
import { TooManyRequestsError } from '../../platform/http/problem.js';
import { createAttemptCounters } from '../../platform/rate-limit.js';

export interface RegistrationLimits {
  perIp: number;
  perEmail: number;
  windowSeconds: number;
}

export function createRegistrationLimit(redis: Redis, prefix: string, limits: RegistrationLimits) {
  const counters = createAttemptCounters(redis);
  // One hash tag: a script's keys must live on one Redis Cluster node.
  const emailKey = (email: string) => `${prefix}:{registrations}:email:${sha256(`register:${email}`).toString('hex')}`;
  const ipKey = (ip: string) => `${prefix}:{registrations}:ip:${ip}`;

  return {
    /** Takes one attempt for `email` and `ip`; 429 with Retry-After when either is spent. */
    async take(email: string, ip: string): Promise<void> {
      const taken = await counters.take([{ key: emailKey(email), limit: limits.perEmail }, { key: ipKey(ip), limit: limits.perIp }], limits.windowSeconds);
      if (!taken.allowed) {
        throw new TooManyRequestsError('Too many registration attempts for this email or from this address; wait before trying again.', taken.retryAfterSeconds);
      }
    },
  };
}

export type RegistrationLimit = ReturnType<typeof createRegistrationLimit>;
