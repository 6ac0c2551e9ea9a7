// The accounts module's share of a user's export (GDPR Art. 15/20): the profile, every session's
// metadata (decrypted) and the 2FA status. Credentials are left out on purpose: password hash,
// TOTP secret and recovery-code hashes describe no one and would only help whoever got the file.
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { PersonalDataProvider } from '../../platform/platform.js';
import type { AccountsRepo } from './accounts-repo.js';
import type { SessionData } from './accounts-types.js';

const BATCH = 1_000;
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

type Deps = {
  repo: Pick<AccountsRepo, 'findById' | 'countRecoveryCodes' | 'sessionsPage'>;
  fieldCipher: Pick<FieldCipher, 'decryptJson'>;
};

export function accountsPersonalData({ repo, fieldCipher }: Deps): PersonalDataProvider {
  return {
    collections: [
      {
        name: 'profile',
        description: 'Your account: id, email, status, creation time.',
        async *rows(userId) {
          const user = await repo.findById('user', userId);
          if (user) yield { id: user.id, email: user.email, status: user.status, createdAt: iso(user.createdAt) };
        },
      },
      {
        name: 'two_factor',
        description: 'Whether TOTP two-factor authentication is on, and your recovery codes (counts only).',
        async *rows(userId) {
          const user = await repo.findById('user', userId);
          if (!user) return;
          const codes = await repo.countRecoveryCodes(userId);
          yield {
            totpEnabled: Boolean(user.totpConfirmedAt),
            totpEnrolmentPending: Boolean(user.totpSecretEnc) && !user.totpConfirmedAt,
            totpConfirmedAt: iso(user.totpConfirmedAt),
            recoveryCodesUnused: codes.unused,
            recoveryCodesUsed: codes.used,
          };
        },
      },
      {
        name: 'sessions',
        description: 'Every login session: times, user agent, IP address and the second factor used.',
        async *rows(userId) {
          // One batch in memory at a time, whatever the number of sessions.
          let after: string | undefined;
          for (;;) {
            const page = await repo.sessionsPage(userId, after, BATCH);
            for (const session of page) {
              const data = await fieldCipher.decryptJson<SessionData>({ table: 'sessions', column: 'data_enc', rowId: session.id }, session.dataEnc);
              yield {
                id: session.id, createdAt: iso(session.createdAt), lastSeenAt: iso(session.lastSeenAt), expiresAt: iso(session.expiresAt), revokedAt: iso(session.revokedAt),
                userAgent: data.userAgent, ip: data.ip, secondFactor: data.secondFactor,
              };
            }
            if (page.length < BATCH) return;
            after = page[page.length - 1].id;
          }
        },
      },
    ],
  };
}
