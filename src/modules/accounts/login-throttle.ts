// The credential throttle: every check of a password, a TOTP code or a recovery code takes one
// attempt per account and per client IP BEFORE the check runs (atomically, see
// platform/rate-limit.ts), so parallel requests cannot all pass a counter nobody has raised yet.
// A wrong answer keeps its attempt; a success resets the account's count and gives the IP its
// attempt back; anything else (a missing second factor, a locked account) is refunded. Past
// either limit every route below answers 429 with Retry-After, even for the right credentials,
// and since they share the per-account counter, a lockout earned on one holds on all of them.
// Redis holds only a hash of the email, never the address.
import type { Redis } from 'ioredis';
import { sha256 } from '../../platform/crypto/hashing.js';
import { HttpProblem, TooManyRequestsError } from '../../platform/http/problem.js';
import { createAttemptCounters } from '../../platform/rate-limit.js';
import type { AccountKind } from './accounts-types.js';

export type Credential = 'password' | 'totp' | 'recoveryCode';

/**
 * Every operation that verifies a credential, and which. The one list: test/accounts/
 * credential-routes.test.ts checks it against the OpenAPI spec (any operation whose request
 * takes a password or a code must be here) and proves each one throttled and refusing while the
 * account is locked.
 */
export const CREDENTIAL_ROUTES: Record<string, readonly Credential[]> = {
  loginUser: ['password', 'totp', 'recoveryCode'],
  loginStaff: ['password', 'totp', 'recoveryCode'],
  disableMyTotp: ['password', 'totp', 'recoveryCode'],
  confirmMyTotp: ['totp'],
  confirmStaffTotp: ['totp'],
  requestMyExport: ['password', 'totp', 'recoveryCode'],
  requestMyDeletion: ['password', 'totp', 'recoveryCode'],
};

export interface ThrottleLimits {
  perAccount: number;
  perIp: number;
  windowSeconds: number;
}

/** Whose credentials are being checked: the account counter is keyed by kind and email. */
export interface CredentialSubject {
  kind: AccountKind;
  email: string;
}

/** A wrong password or code keeps its attempt; a missing second factor is a question, not a guess. */
export const isWrongGuess = (error: unknown) =>
  error instanceof HttpProblem && error.status === 401 && (error as { missing?: boolean }).missing !== true;

export function createLoginThrottle(redis: Redis, prefix: string, limits: ThrottleLimits) {
  const counters = createAttemptCounters(redis);
  // One hash tag for all of them: a script's keys must live on one Redis Cluster node.
  const accountKey = ({ kind, email }: CredentialSubject) => `${prefix}:{auth-attempts}:account:${sha256(`${kind}:${email}`).toString('hex')}`;
  const ipKey = (ip: string) => `${prefix}:{auth-attempts}:ip:${ip}`;

  return {
    /**
     * Runs `check` under one attempt of `subject` and `ip`: 429 (Retry-After) without running it
     * when either is spent. `countsAsGuess` says which failures keep the attempt.
     */
    async guard<T>(subject: CredentialSubject, ip: string, check: () => Promise<T>, countsAsGuess: (error: unknown) => boolean = isWrongGuess): Promise<T> {
      const account = accountKey(subject);
      const address = ipKey(ip);
      const taken = await counters.take([{ key: account, limit: limits.perAccount }, { key: address, limit: limits.perIp }], limits.windowSeconds);
      if (!taken.allowed) {
        throw new TooManyRequestsError('Too many wrong passwords or codes for this account or from this address; wait before trying again.', taken.retryAfterSeconds);
      }
      let result: T;
      try {
        result = await check();
      } catch (error) {
        if (!countsAsGuess(error)) await counters.settle([], [account, address]);
        throw error;
      }
      await counters.settle([account], [address]);
      return result;
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
