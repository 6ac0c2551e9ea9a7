// The SQL of the accounts domain. Rows are mapped to domain objects here so that hashes and
// ciphertext columns never leave as raw row values.
import type { Knex } from '../../platform/db.js';
import type { Account, AccountKind, SessionFactor, SessionOwner, SessionRecord } from './accounts-types.js';

const accountTable = (kind: AccountKind) => (kind === 'user' ? 'users' : 'staff_members');
const ownerColumn = (kind: AccountKind) => (kind === 'user' ? 'user_id' : 'staff_id');

type AccountRow = {
  id: string; email: string; password_hash: string; totp_secret_enc: Buffer | null; totp_confirmed_at: Date | null;
  totp_last_step: number | null; created_at: Date; status?: Account['status']; role?: Account['role']; disabled_at?: Date | null;
};

const toAccount = (kind: AccountKind, row: AccountRow): Account => ({
  kind,
  id: row.id,
  email: row.email,
  passwordHash: row.password_hash,
  totpSecretEnc: row.totp_secret_enc,
  totpConfirmedAt: row.totp_confirmed_at,
  totpLastStep: row.totp_last_step === null ? null : Number(row.totp_last_step),
  createdAt: row.created_at,
  status: row.status,
  role: row.role,
  disabledAt: row.disabled_at,
});

type SessionRow = {
  id: string; user_id: string | null; staff_id: string | null; data_enc: Buffer; factors: SessionFactor[]; created_at: Date; last_seen_at: Date; expires_at: Date;
};
const toSession = (row: SessionRow): SessionRecord => ({
  id: row.id,
  ownerKind: row.user_id ? 'user' : 'staff',
  ownerId: (row.user_id ?? row.staff_id)!,
  dataEnc: row.data_enc,
  factors: row.factors,
  createdAt: row.created_at,
  lastSeenAt: row.last_seen_at,
  expiresAt: row.expires_at,
});

/**
 * The per-request lookup, as one fixed statement per kind: a live session and its owner's whole
 * row in one round trip (GET /me answers from it), whether the idle clock is due a touch (most
 * requests write nothing), and how long the session has left (absolute or idle expiry, by the
 * database's clock), which bounds how long it may be cached.
 */
const liveSessionSql: Record<AccountKind, string> = Object.fromEntries((['user', 'staff'] as const).map((kind) => [kind, `
  SELECT s.id, s.user_id, s.staff_id, s.data_enc, s.factors, s.created_at, s.last_seen_at, s.expires_at,
    a.id AS a_id, a.email AS a_email, a.password_hash AS a_password_hash, a.totp_secret_enc AS a_totp_secret_enc,
    a.totp_confirmed_at AS a_totp_confirmed_at, a.totp_last_step AS a_totp_last_step, a.created_at AS a_created_at,
    ${kind === 'user'
    // A locked user's sessions stop at once, even one created in a race with the lock's revocation.
    ? `a.status AS a_status, NULL AS a_role, NULL AS a_disabled_at, a.status = 'locked' AS disabled`
    : 'NULL AS a_status, a.role AS a_role, a.disabled_at AS a_disabled_at, a.disabled_at IS NOT NULL AS disabled'},
    s.last_seen_at < now() - interval '1 minute' AS touch_due,
    floor(extract(epoch FROM least(s.expires_at, s.last_seen_at + make_interval(mins => ?)) - now()) * 1000) AS live_ms
  FROM sessions s JOIN ${accountTable(kind)} a ON a.id = s.${ownerColumn(kind)}
  WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > now()
    AND s.last_seen_at > now() - make_interval(mins => ?)
  LIMIT 1`])) as Record<AccountKind, string>;

export interface LiveSession {
  session: SessionRecord;
  owner: SessionOwner;
  /** The owner's row as read with the session. */
  account: Account;
  touchDue: boolean;
  /** Milliseconds until the session expires (absolute or idle), by the database's clock. */
  liveMs: number;
}

export function createAccountsRepo(db: Knex) {
  return {
    async insertUser(email: string, passwordHash: string): Promise<Account | null> {
      const rows = await db('users').insert({ email, password_hash: passwordHash }).onConflict('email').ignore().returning('*');
      return rows[0] ? toAccount('user', rows[0]) : null;
    },

    async insertStaff(email: string, role: string, passwordHash: string): Promise<Account | null> {
      const rows = await db('staff_members').insert({ email, role, password_hash: passwordHash }).onConflict('email').ignore().returning('*');
      return rows[0] ? toAccount('staff', rows[0]) : null;
    },

    async findByEmail(kind: AccountKind, email: string): Promise<Account | null> {
      const row = await db(accountTable(kind)).where({ email }).first();
      return row ? toAccount(kind, row) : null;
    },

    async findById(kind: AccountKind, id: string): Promise<Account | null> {
      const row = await db(accountTable(kind)).where({ id }).first();
      return row ? toAccount(kind, row) : null;
    },

    async setTotpSecret(kind: AccountKind, id: string, secretEnc: Buffer): Promise<void> {
      await db(accountTable(kind)).where({ id }).update({ totp_secret_enc: secretEnc, totp_confirmed_at: null, totp_last_step: null });
    },

    /**
     * Records a TOTP time step as used. Returns false when that step (or a later one) was used
     * already: the same code never works twice (RFC 6238 §5.2).
     */
    async claimTotpStep(kind: AccountKind, id: string, step: number, confirm = false): Promise<boolean> {
      const query = db(accountTable(kind)).where({ id })
        .andWhere((q) => q.whereNull('totp_last_step').orWhere('totp_last_step', '<', step))
        .update({ totp_last_step: step, ...(confirm ? { totp_confirmed_at: db.fn.now() } : {}) });
      return (await query) === 1;
    },

    async clearTotp(kind: AccountKind, id: string): Promise<void> {
      await db.transaction(async (trx) => {
        await trx(accountTable(kind)).where({ id }).update({ totp_secret_enc: null, totp_confirmed_at: null, totp_last_step: null });
        await trx('recovery_codes').where({ [ownerColumn(kind)]: id }).delete();
      });
    },

    async replaceRecoveryCodes(kind: AccountKind, id: string, hashes: Buffer[]): Promise<void> {
      await db.transaction(async (trx) => {
        await trx('recovery_codes').where({ [ownerColumn(kind)]: id }).delete();
        await trx('recovery_codes').insert(hashes.map((code_hash) => ({ [ownerColumn(kind)]: id, code_hash })));
      });
    },

    /** Marks a recovery code used; false when it does not exist, is someone else's, or was used. */
    async consumeRecoveryCode(kind: AccountKind, id: string, hash: Buffer): Promise<boolean> {
      const updated = await db('recovery_codes').where({ [ownerColumn(kind)]: id, code_hash: hash }).whereNull('used_at').update({ used_at: db.fn.now() });
      return updated === 1;
    },

    async countUnusedRecoveryCodes(kind: AccountKind, id: string): Promise<number> {
      const [row] = await db('recovery_codes').where({ [ownerColumn(kind)]: id }).whereNull('used_at').count<{ count: number }[]>('* as count');
      return Number(row.count);
    },

    async insertSession(session: { id: string; kind: AccountKind; ownerId: string; tokenHash: Buffer; dataEnc: Buffer; factors: SessionFactor[]; expiresAt: Date }): Promise<void> {
      await db('sessions').insert({
        id: session.id,
        factors: session.factors,
        token_hash: session.tokenHash,
        [ownerColumn(session.kind)]: session.ownerId,
        data_enc: session.dataEnc,
        expires_at: session.expiresAt,
      });
    },

    /**
     * The per-request lookup: a live session of `kind` and what authorization needs of its owner,
     * in one round trip, plus whether the idle clock is due a touch (most requests write nothing).
     */
    async findLiveSessionWithOwner(kind: AccountKind, tokenHash: Buffer, idleMinutes: number): Promise<LiveSession | null> {
      const { rows } = await db.raw(liveSessionSql[kind], [idleMinutes, tokenHash, idleMinutes]);
      const row = rows[0];
      if (!row) return null;
      const session = toSession(row);
      const account = toAccount(kind, {
        id: row.a_id, email: row.a_email, password_hash: row.a_password_hash, totp_secret_enc: row.a_totp_secret_enc,
        totp_confirmed_at: row.a_totp_confirmed_at, totp_last_step: row.a_totp_last_step, created_at: row.a_created_at,
        status: row.a_status ?? undefined, role: row.a_role ?? undefined, disabled_at: kind === 'staff' ? row.a_disabled_at : undefined,
      });
      return {
        session,
        owner: { id: account.id, email: account.email, status: account.status, role: account.role, totpConfirmed: account.totpConfirmedAt !== null, disabled: row.disabled },
        account,
        touchDue: row.touch_due,
        liveMs: Number(row.live_ms),
      };
    },

    /** Records that a live session has now also proved `factor` (it presented a code). */
    async addSessionFactor(kind: AccountKind, ownerId: string, sessionId: string, factor: SessionFactor): Promise<void> {
      await db('sessions').where({ id: sessionId, [ownerColumn(kind)]: ownerId }).whereNull('revoked_at')
        .andWhereRaw('NOT (? = ANY (factors))', [factor])
        .update({ factors: db.raw('array_append(factors, ?)', [factor]) });
    },

    /** Touches last_seen_at at most once a minute, to keep the idle clock without a write per request. */
    async touchSession(id: string): Promise<void> {
      await db('sessions').where({ id }).andWhere('last_seen_at', '<', db.raw(`now() - interval '1 minute'`)).update({ last_seen_at: db.fn.now() });
    },

    /** Same liveness rule as findLiveSessionWithOwner, so an idle session is never listed as usable. */
    async listLiveSessions(kind: AccountKind, ownerId: string, idleMinutes: number): Promise<SessionRecord[]> {
      const rows = await db('sessions').where({ [ownerColumn(kind)]: ownerId }).whereNull('revoked_at')
        .andWhere('expires_at', '>', db.fn.now())
        .andWhere('last_seen_at', '>', db.raw(`now() - make_interval(mins => ?)`, [idleMinutes]))
        .orderBy('created_at', 'desc');
      return rows.map(toSession);
    },

    async revokeSession(kind: AccountKind, ownerId: string, sessionId: string): Promise<boolean> {
      const n = await db('sessions').where({ id: sessionId, [ownerColumn(kind)]: ownerId }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
      return n === 1;
    },

    async revokeAllSessions(kind: AccountKind, ownerId: string, exceptSessionId?: string): Promise<number> {
      const query = db('sessions').where({ [ownerColumn(kind)]: ownerId }).whereNull('revoked_at');
      if (exceptSessionId) query.whereNot({ id: exceptSessionId });
      return query.update({ revoked_at: db.fn.now() });
    },

    /** Switches a user between 'active' and 'locked'; null when there is no such user or it is pending deletion. */
    async setUserLocked(userId: string, locked: boolean): Promise<'active' | 'locked' | null> {
      const rows = await db('users').where({ id: userId }).whereIn('status', ['active', 'locked'])
        .update({ status: locked ? 'locked' : 'active' }).returning('status');
      return rows[0]?.status ?? null;
    },

    // ---- the user's own export (accounts-personal-data.ts) ----

    async countRecoveryCodes(userId: string): Promise<{ unused: number; used: number }> {
      const [row] = await db('recovery_codes').where({ user_id: userId })
        .select(db.raw('count(*) FILTER (WHERE used_at IS NULL)::int AS unused'), db.raw('count(*) FILTER (WHERE used_at IS NOT NULL)::int AS used'));
      return { unused: row?.unused ?? 0, used: row?.used ?? 0 };
    },

    /**
     * One page of a user's sessions, revoked and expired ones included, keyed by id. (Not by
     * created_at: a JS Date drops PostgreSQL's microseconds, so that key would never advance.)
     */
    async sessionsPage(userId: string, afterId: string | undefined, limit: number): Promise<Array<SessionRecord & { revokedAt: Date | null }>> {
      const query = db('sessions').where({ user_id: userId }).orderBy('id').limit(limit);
      if (afterId) query.andWhere('id', '>', afterId);
      const rows = await query;
      return rows.map((row: SessionRow & { revoked_at: Date | null }) => ({ ...toSession(row), revokedAt: row.revoked_at }));
    },

    /**
     * Deletes up to `batchSize` sessions that can never be used again: revoked, past their
     * absolute expiry, or idle past the idle limit — each for longer than `graceMinutes`, so the
     * owner's session list still shows a session that just ended. SKIP LOCKED lets two workers
     * purge side by side without waiting on each other or on a login touching its row.
     */
    async deleteDeadSessions({ graceMinutes, idleMinutes, batchSize }: { graceMinutes: number; idleMinutes: number; batchSize: number }): Promise<number> {
      const dead = db('sessions').select('id')
        .where((q) => q
          .where('revoked_at', '<', db.raw('now() - make_interval(mins => ?)', [graceMinutes]))
          .orWhere('expires_at', '<', db.raw('now() - make_interval(mins => ?)', [graceMinutes]))
          .orWhere('last_seen_at', '<', db.raw('now() - make_interval(mins => ?)', [idleMinutes + graceMinutes])))
        .limit(batchSize).forUpdate().skipLocked();
      return db('sessions').whereIn('id', dead).delete();
    },

    async listStaff(): Promise<Account[]> {
      const rows = await db('staff_members').orderBy('created_at');
      return rows.map((row: AccountRow) => toAccount('staff', row));
    },
  };
}

export type AccountsRepo = ReturnType<typeof createAccountsRepo>;
