// The accounts module's share of a user's export (GDPR Art. 15/20): the profile, every session's
// metadata (decrypted) and the 2FA status. Credentials are left out on purpose: password hash,
// TOTP secret and recovery-code hashes describe no one and would only help whoever got the file.
import type { Knex } from '../../platform/db.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { PersonalDataProvider } from '../../platform/platform.js';
import type { SessionData } from './accounts-types.js';

const BATCH = 1_000;
const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function accountsPersonalData(db: Knex, fieldCipher: Pick<FieldCipher, 'decryptJson'>): PersonalDataProvider {
  return {
    collections: [
      {
        name: 'profile',
        description: 'Your account: id, email, status, creation time.',
        async *rows(userId) {
          const user = await db('users').where({ id: userId }).first('id', 'email', 'status', 'created_at', 'updated_at');
          if (user) yield { id: user.id, email: user.email, status: user.status, createdAt: iso(user.created_at), updatedAt: iso(user.updated_at) };
        },
      },
      {
        name: 'two_factor',
        description: 'Whether TOTP two-factor authentication is on, and your recovery codes (counts only).',
        async *rows(userId) {
          const user = await db('users').where({ id: userId }).first('totp_confirmed_at', 'totp_secret_enc');
          if (!user) return;
          const [codes] = await db('recovery_codes').where({ user_id: userId })
            .select(db.raw('count(*) FILTER (WHERE used_at IS NULL)::int AS unused'), db.raw('count(*) FILTER (WHERE used_at IS NOT NULL)::int AS used'));
          yield {
            totpEnabled: Boolean(user.totp_confirmed_at),
            totpEnrolmentPending: Boolean(user.totp_secret_enc) && !user.totp_confirmed_at,
            totpConfirmedAt: iso(user.totp_confirmed_at),
            recoveryCodesUnused: codes?.unused ?? 0,
            recoveryCodesUsed: codes?.used ?? 0,
          };
        },
      },
      {
        name: 'sessions',
        description: 'Every login session: times, user agent, IP address and the second factor used.',
        async *rows(userId) {
          // Keyset paging on the id: one batch in memory at a time, whatever the number of sessions.
          // (Not on created_at: a JS Date drops PostgreSQL's microseconds, so the key would never advance.)
          let after: string | undefined;
          for (;;) {
            const q = db('sessions').where({ user_id: userId }).orderBy('id').limit(BATCH)
              .select('id', 'data_enc', 'created_at', 'last_seen_at', 'expires_at', 'revoked_at');
            if (after) q.andWhere('id', '>', after);
            const rows = await q;
            for (const row of rows) {
              const data = await fieldCipher.decryptJson<SessionData>({ table: 'sessions', column: 'data_enc', rowId: row.id }, row.data_enc);
              yield {
                id: row.id, createdAt: iso(row.created_at), lastSeenAt: iso(row.last_seen_at), expiresAt: iso(row.expires_at), revokedAt: iso(row.revoked_at),
                userAgent: data.userAgent, ip: data.ip, secondFactor: data.secondFactor,
              };
            }
            if (rows.length < BATCH) return;
            after = rows[rows.length - 1].id;
          }
        },
      },
    ],
  };
}
