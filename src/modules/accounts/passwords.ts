// Password policy (NIST SP 800-63B §5.1.1.2: length over composition rules, and a blocklist of
// common passwords) and bcrypt hashing. bcrypt's async API runs on libuv's thread pool, so
// hashing never blocks the event loop.
import bcrypt from 'bcrypt';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FieldError } from '../../platform/http/problem.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_BYTES = 72; // bcrypt ignores bytes beyond 72

const here = dirname(fileURLToPath(import.meta.url));
const listPath = [join(here, '..', '..', '..', 'data', 'common-passwords.txt'), join(here, '..', '..', '..', '..', 'data', 'common-passwords.txt')];
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  if (!common) {
    const file = listPath.find((p) => { try { readFileSync(p); return true; } catch { return false; } });
    if (!file) throw new Error('data/common-passwords.txt is missing');
    common = new Set(readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.trim().toLowerCase()));
  }
  return common;
}

/** Field errors for a new password; empty when it is acceptable. */
export function checkPasswordPolicy(password: string, email?: string, field = 'body.password'): FieldError[] {
  if (password.length < MIN_PASSWORD_LENGTH) return [{ field, message: `must be at least ${MIN_PASSWORD_LENGTH} characters` }];
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return [{ field, message: `must be at most ${MAX_PASSWORD_BYTES} bytes` }];
  const lowered = password.toLowerCase();
  if (commonPasswords().has(lowered)) return [{ field, message: 'is one of the most common passwords; choose another' }];
  if (/^(.)\1+$/.test(password)) return [{ field, message: 'must not be a single repeated character' }];
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && lowered.includes(local)) return [{ field, message: 'must not contain your email address' }];
  return [];
}

export function createPasswordHasher(cost: number) {
  if (cost < 12) throw new Error('bcrypt cost below 12 is refused');
  // A real hash to compare against when the account does not exist, so a wrong email costs as
  // much time as a wrong password and does not reveal which accounts exist.
  const dummy = bcrypt.hash('custos-timing-equaliser', cost);
  return {
    hash: (password: string) => bcrypt.hash(password, cost),
    verify: (password: string, hash: string) => bcrypt.compare(password, hash),
    async burn(password: string) {
      await bcrypt.compare(password, await dummy);
      return false;
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;
