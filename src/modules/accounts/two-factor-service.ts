// TOTP enrolment, confirmation, verification at login, recovery codes and disabling, for users
// and staff alike. Secrets are AES-256-GCM encrypted under the account's data key.
import { randomBytes } from 'node:crypto';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { pepperedHash } from '../../platform/crypto/hashing.js';
import { BadRequestError, ConflictError, UnauthorizedError } from '../../platform/http/problem.js';
import type { AccountsRepo } from './accounts-repo.js';
import type { Account, AccountKind, SecondFactor } from './accounts-types.js';
import { matchTotpStep, newTotpSecret, otpauthUri } from './totp.js';

export const RECOVERY_CODE_COUNT = 10;

type Deps = {
  repo: Pick<AccountsRepo, 'setTotpSecret' | 'claimTotpStep' | 'clearTotp' | 'replaceRecoveryCodes' | 'consumeRecoveryCode' | 'countUnusedRecoveryCodes'>;
  fieldCipher: Pick<FieldCipher, 'encryptText' | 'decryptText'>;
  pepper: Buffer;
  issuer: string;
};

const secretLocation = (account: Pick<Account, 'kind' | 'id'>) => ({
  table: account.kind === 'user' ? 'users' : 'staff_members',
  column: 'totp_secret_enc',
  rowId: account.id,
});

/** 10 random base32 characters in two groups, e.g. "k7d2m-q9x4t" (50 bits). */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}
const normaliseRecoveryCode = (code: string) => code.trim().toLowerCase().replace(/[^a-z0-9]/g, '');

export function createTwoFactorService({ repo, fieldCipher, pepper, issuer }: Deps) {
  const hashRecoveryCode = (kind: AccountKind, code: string) => pepperedHash(pepper, `recovery-code:${kind}:`, normaliseRecoveryCode(code));

  async function secretOf(account: Account): Promise<string> {
    if (!account.totpSecretEnc) throw new ConflictError('TOTP is not enrolled; start with POST …/2fa/totp.');
    return fieldCipher.decryptText(secretLocation(account), account.totpSecretEnc);
  }

  return {
    async enrol(account: Account): Promise<{ secret: string; otpauthUri: string }> {
      if (account.totpConfirmedAt) throw new ConflictError('TOTP is already enabled; disable it first to enrol a new authenticator.');
      const secret = newTotpSecret();
      await repo.setTotpSecret(account.kind, account.id, await fieldCipher.encryptText(account.id, secretLocation(account), secret));
      return { secret, otpauthUri: otpauthUri(secret, issuer, account.email) };
    },

    /** Confirms enrolment with a first code; returns the recovery codes, shown this once. */
    async confirm(account: Account, code: string): Promise<{ recoveryCodes: string[] }> {
      if (account.totpConfirmedAt) throw new ConflictError('TOTP is already confirmed.');
      const step = matchTotpStep(await secretOf(account), code);
      if (step === null || !(await repo.claimTotpStep(account.kind, account.id, step, true))) {
        throw new BadRequestError('The code does not match; check the authenticator\'s clock and enter the current code.', [{ field: 'body.code', message: 'does not match' }]);
      }
      const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
      await repo.replaceRecoveryCodes(account.kind, account.id, recoveryCodes.map((c) => hashRecoveryCode(account.kind, c)));
      return { recoveryCodes };
    },

    /**
     * Checks the second factor at login. Returns which factor was used; throws 401 when a code
     * is needed but missing, wrong, or replayed.
     */
    async verifyAtLogin(account: Account, totp?: string, recoveryCode?: string): Promise<SecondFactor> {
      if (!account.totpConfirmedAt) return 'none';
      if (totp) {
        const step = matchTotpStep(await secretOf(account), totp);
        if (step !== null && (await repo.claimTotpStep(account.kind, account.id, step))) return 'totp';
        throw new SecondFactorError('The TOTP code is wrong or was used already; wait for the next code.');
      }
      if (recoveryCode) {
        if (await repo.consumeRecoveryCode(account.kind, account.id, hashRecoveryCode(account.kind, recoveryCode))) return 'recovery_code';
        throw new SecondFactorError('The recovery code is wrong or was used already.');
      }
      throw new SecondFactorError('This account has two-factor authentication: send `totp` (or a `recoveryCode`) with the password.', true);
    },

    /** Turns TOTP off; the caller has verified the password and a code (accounts-service). */
    async disable(account: Account): Promise<void> {
      await repo.clearTotp(account.kind, account.id);
    },

    remainingRecoveryCodes: (account: Pick<Account, 'kind' | 'id'>) => repo.countUnusedRecoveryCodes(account.kind, account.id),
  };
}

export class SecondFactorError extends UnauthorizedError {
  constructor(detail: string, readonly missing = false) {
    super(detail);
    (this.extensions as Record<string, unknown>).secondFactorRequired = true;
  }
}

export type TwoFactorService = ReturnType<typeof createTwoFactorService>;
