// The relay's SQL: API keys, the closed relay log, daily usage, the monthly spend ledger and the
// sub-cent charge carry. Rows are mapped to domain objects here; hashes and salts leave only in
// ApiKeyCredential, which the service uses for verification and drops.
import type { Knex, ListingReads } from '../../platform/db.js';
import type { Logger } from '../../platform/logger.js';
import { preparedStatement } from '../../platform/prepared-statement.js';
import type { KeyEnvironment } from './api-keys.js';
import type { ApiKeyCredential, ApiKeyRecord, NewApiKey, RelayLogEntry, UsageRow } from './relay-types.js';

interface ApiKeyRow {
  id: string; user_id: string; limit_group_id: string; prefix: string; salt: Buffer; key_hash: Buffer; name: string;
  environment: KeyEnvironment; spending_limit_cents: number | null; models: string[] | null; created_at: Date;
  expires_at: Date | null; revoked_at: Date | null; last_used_at: Date | null; replaced_by: string | null;
}

const toRecord = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  limitGroupId: r.limit_group_id,
  prefix: r.prefix,
  name: r.name,
  environment: r.environment,
  spendingLimitCents: r.spending_limit_cents === null ? null : Number(r.spending_limit_cents),
  models: r.models,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
  replacedBy: r.replaced_by,
});

const PUBLIC_COLUMNS = ['id', 'user_id', 'limit_group_id', 'prefix', 'name', 'environment', 'spending_limit_cents', 'models', 'created_at', 'expires_at', 'revoked_at', 'last_used_at', 'replaced_by'];

async function usageRows(db: Knex, userId: string, from: string, to: string): Promise<UsageRow[]> {
  const rows = await db('relay_usage_daily').where('user_id', userId).whereBetween('day', [from, to])
    .orderBy([{ column: 'day', order: 'desc' }, 'api_key_id', 'model'])
    .select(db.raw(`to_char(day, 'YYYY-MM-DD') as day`), 'api_key_id', 'model', 'environment', 'requests', 'input_tokens', 'output_tokens', 'cached_tokens', 'cost_microcents');
  return rows.map((r) => ({
    day: r.day, apiKeyId: r.api_key_id, model: r.model, environment: r.environment, requests: Number(r.requests),
    inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens), cachedTokens: Number(r.cached_tokens), costMicrocents: Number(r.cost_microcents),
  }));
}

/**
 * The settlement batch (settleBatch): the calls' log rows, the days' usage, the months' spend,
 * the keys' last use and the charge carry, from five JSON arrays of records. Sent as a named
 * prepared statement: parsing it costs PostgreSQL about as much as running it.
 */
const SETTLE_BATCH_SQL = `
  WITH log AS (
    INSERT INTO relay_log (at, api_key_id, user_id, environment, provider, model, status, reason, input_tokens, output_tokens, cached_tokens, latency_ms, cost_microcents)
    SELECT at, api_key_id, user_id, environment, provider, model, status, reason, input_tokens, output_tokens, cached_tokens, latency_ms, cost
      FROM jsonb_to_recordset(?::jsonb) AS x(at timestamptz, api_key_id uuid, user_id uuid, environment text, provider text, model text, status int, reason text,
           input_tokens int, output_tokens int, cached_tokens int, latency_ms int, cost bigint)
    RETURNING 1
  ), usage AS (
    INSERT INTO relay_usage_daily AS u (user_id, api_key_id, model, day, environment, requests, input_tokens, output_tokens, cached_tokens, cost_microcents)
    SELECT user_id, api_key_id, model, day, environment, requests, input_tokens, output_tokens, cached_tokens, cost
      FROM jsonb_to_recordset(?::jsonb) AS x(user_id uuid, api_key_id uuid, model text, day date, environment text, requests int, input_tokens bigint, output_tokens bigint, cached_tokens bigint, cost bigint)
    ON CONFLICT (user_id, api_key_id, model, day) DO UPDATE SET requests = u.requests + excluded.requests,
      input_tokens = u.input_tokens + excluded.input_tokens, output_tokens = u.output_tokens + excluded.output_tokens,
      cached_tokens = u.cached_tokens + excluded.cached_tokens, cost_microcents = u.cost_microcents + excluded.cost_microcents
    RETURNING 1
  ), spend AS (
    INSERT INTO relay_spend AS s (limit_group_id, user_id, period, spent_microcents)
    SELECT limit_group_id, user_id, period, cost FROM jsonb_to_recordset(?::jsonb) AS x(limit_group_id uuid, user_id uuid, period text, cost bigint)
    ON CONFLICT (limit_group_id, period) DO UPDATE SET spent_microcents = s.spent_microcents + excluded.spent_microcents
    RETURNING 1
  ), touch AS (
    UPDATE api_keys SET last_used_at = now()
     WHERE id IN (SELECT value::uuid FROM jsonb_array_elements_text(?::jsonb))
       AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
    RETURNING 1
  )
  INSERT INTO relay_charge_carry AS c (user_id, carry_microcents, last_due_cents)
  SELECT user_id, cost % 1000000, cost / 1000000 FROM jsonb_to_recordset(?::jsonb) AS x(user_id uuid, cost bigint)
  ON CONFLICT (user_id) DO UPDATE SET last_due_cents = (c.carry_microcents + excluded.carry_microcents + excluded.last_due_cents * 1000000) / 1000000,
    carry_microcents = (c.carry_microcents + excluded.carry_microcents + excluded.last_due_cents * 1000000) % 1000000
  RETURNING user_id, last_due_cents`;

/** `listings`: the pool of listUsage (the usage route), which tolerates replica lag (see ListingReads); key checks, settlement and exports use `db`. */
export function createRelayRepo(db: Knex, listings: ListingReads, logger: Pick<Logger, 'warn'>) {
  const runSettleBatch = preparedStatement('relay_settle_batch', SETTLE_BATCH_SQL, logger);
  const keys = (trx: Knex | Knex.Transaction = db) => trx<ApiKeyRow>('api_keys');

  return {
    async insertKey(key: NewApiKey, trx: Knex | Knex.Transaction = db): Promise<ApiKeyRecord> {
      const [row] = await keys(trx).insert({
        id: key.id, user_id: key.userId, limit_group_id: key.limitGroupId, prefix: key.prefix, salt: key.salt, key_hash: key.keyHash,
        name: key.name, environment: key.environment, spending_limit_cents: key.spendingLimitCents, models: key.models, expires_at: key.expiresAt,
      }).returning(PUBLIC_COLUMNS);
      return toRecord(row as ApiKeyRow);
    },

    /** Keys that are not revoked, newest first, with what each limit group spent in `period`. */
    async listKeys(userId: string, period: string): Promise<Array<ApiKeyRecord & { spentMicrocents: number }>> {
      const rows = await db('api_keys as k')
        .leftJoin('relay_spend as s', (j) => j.on('s.limit_group_id', 'k.limit_group_id').andOn('s.period', db.raw('?', [period])))
        .where('k.user_id', userId).whereNull('k.revoked_at')
        .orderBy('k.created_at', 'desc')
        .select([...PUBLIC_COLUMNS.map((c) => `k.${c}`), db.raw('coalesce(s.spent_microcents, 0) as spent_microcents')]);
      return rows.map((r: ApiKeyRow & { spent_microcents: number }) => ({ ...toRecord(r), spentMicrocents: Number(r.spent_microcents) }));
    },

    async findKey(userId: string, id: string): Promise<ApiKeyRecord | null> {
      const row = await keys().where({ user_id: userId, id }).whereNull('revoked_at').first(PUBLIC_COLUMNS);
      return row ? toRecord(row as unknown as ApiKeyRow) : null;
    },

    /**
     * The key behind a prefix (one unique-index lookup) with its owner's account status. Read on
     * a key-cache miss only (key-cache.ts says when the cache may be used).
     */
    async findCredential(prefix: string): Promise<ApiKeyCredential | null> {
      const { rows } = await db.raw('SELECT k.*, u.status AS owner_status FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = ?', [prefix]);
      const row = rows[0] as (ApiKeyRow & { owner_status: string }) | undefined;
      if (!row) return null;
      return { ...toRecord(row), salt: row.salt, keyHash: row.key_hash, ownerStatus: row.owner_status };
    },

    async revokeKey(userId: string, id: string): Promise<boolean> {
      return (await keys().where({ user_id: userId, id }).whereNull('revoked_at').update({ revoked_at: db.fn.now() })) > 0;
    },

    /** Old key ends at `endsAt` (never later than it already would), a new key takes its place. */
    async rotateKey(userId: string, id: string, endsAt: Date, replacement: (old: ApiKeyRecord) => NewApiKey): Promise<{ old: ApiKeyRecord; created: ApiKeyRecord } | null> {
      return db.transaction(async (trx) => {
        const row = await keys(trx).where({ user_id: userId, id }).whereNull('revoked_at').whereNull('replaced_by').forUpdate().first(PUBLIC_COLUMNS);
        if (!row) return null;
        const old = toRecord(row as unknown as ApiKeyRow);
        if (old.expiresAt && old.expiresAt <= new Date()) return null;
        const created = await this.insertKey(replacement(old), trx);
        const [updated] = await keys(trx).where({ id }).update({
          replaced_by: created.id,
          expires_at: trx.raw('LEAST(coalesce(expires_at, ?::timestamptz), ?::timestamptz)', [endsAt, endsAt]),
        }).returning(PUBLIC_COLUMNS);
        return { old: toRecord(updated as ApiKeyRow), created };
      });
    },

    /**
     * Settled calls written in one statement: their log rows, the days' usage, the months' spend,
     * the charge carry and the keys' last use (at most once a minute). Aggregates are summed here
     * first (one row per conflict target, in a fixed order, so concurrent batches lock rows in the
     * same order). Returns the whole cents now due to the credit ledger per user.
     */
    async settleBatch(entries: RelayLogEntry[]): Promise<Array<{ userId: string; dueCents: number }>> {
      const usage = new Map<string, Record<string, string | number>>();
      const spend = new Map<string, Record<string, string | number>>();
      const carry = new Map<string, { user_id: string; cost: number }>();
      for (const e of entries) {
        const day = e.at.toISOString().slice(0, 10);
        const u = usage.get(`${e.userId}|${e.apiKeyId}|${e.model}|${day}`) ?? { user_id: e.userId, api_key_id: e.apiKeyId, model: e.model, day, environment: e.environment, requests: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost: 0 };
        u.requests = Number(u.requests) + 1;
        u.input_tokens = Number(u.input_tokens) + e.inputTokens;
        u.output_tokens = Number(u.output_tokens) + e.outputTokens;
        u.cached_tokens = Number(u.cached_tokens) + e.cachedTokens;
        u.cost = Number(u.cost) + e.costMicrocents;
        usage.set(`${e.userId}|${e.apiKeyId}|${e.model}|${day}`, u);
        const s = spend.get(`${e.limitGroupId}|${e.period}`) ?? { limit_group_id: e.limitGroupId, user_id: e.userId, period: e.period, cost: 0 };
        s.cost = Number(s.cost) + e.costMicrocents;
        spend.set(`${e.limitGroupId}|${e.period}`, s);
        const c = carry.get(e.userId) ?? { user_id: e.userId, cost: 0 };
        c.cost += e.costMicrocents;
        carry.set(e.userId, c);
      }
      const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
      const log = entries.map((e) => ({
        at: e.at.toISOString(), api_key_id: e.apiKeyId, user_id: e.userId, environment: e.environment, provider: e.provider, model: e.model, status: e.status, reason: e.reason,
        input_tokens: e.inputTokens, output_tokens: e.outputTokens, cached_tokens: e.cachedTokens, latency_ms: e.latencyMs, cost: e.costMicrocents,
      }));
      const touched = [...new Set(entries.map((e) => e.apiKeyId))].sort();
      const { rows } = await runSettleBatch(db, [JSON.stringify(log), JSON.stringify(sorted(usage)), JSON.stringify(sorted(spend)), JSON.stringify(touched), JSON.stringify(sorted(carry))]);
      return (rows as Array<{ user_id: string; last_due_cents: string }>).map((r) => ({ userId: r.user_id, dueCents: Number(r.last_due_cents) }));
    },

    /**
     * Adds a chat completion's cost to the user's sub-cent carry (the one relay calls use, so a
     * user's fractions add up across both) and returns the whole cents now due.
     */
    async carry(userId: string, costMicrocents: number): Promise<{ dueCents: number }> {
      const result = await db.raw(`
        INSERT INTO relay_charge_carry AS c (user_id, carry_microcents, last_due_cents)
        VALUES (:userId, :cost::bigint % 1000000, :cost::bigint / 1000000)
        ON CONFLICT (user_id) DO UPDATE SET last_due_cents = (c.carry_microcents + excluded.carry_microcents + excluded.last_due_cents * 1000000) / 1000000,
          carry_microcents = (c.carry_microcents + excluded.carry_microcents + excluded.last_due_cents * 1000000) % 1000000
        RETURNING last_due_cents`, { userId, cost: costMicrocents });
      return { dueCents: Number(result.rows[0].last_due_cents) };
    },

    /** Gives back cents the credit ledger refused, so they are charged with the next call. */
    async restoreCarry(userId: string, cents: number): Promise<void> {
      // The carry may now exceed a cent; the next settlement charges it.
      await db('relay_charge_carry').where({ user_id: userId }).increment('carry_microcents', cents * 1_000_000);
    },

    async spentMicrocents(limitGroupId: string, period: string): Promise<number> {
      const row = await db('relay_spend').where({ limit_group_id: limitGroupId, period }).first('spent_microcents');
      return row ? Number(row.spent_microcents) : 0;
    },

    /** The user's daily usage from the primary (exports: complete up to the request). */
    usage: (userId: string, from: string, to: string) => usageRows(db, userId, from, to),
    /** The same from the listing pool, for the usage route. */
    listUsage: (userId: string, from: string, to: string) => usageRows(listings, userId, from, to),

    async purgeLogBefore(cutoff: Date): Promise<number> {
      return db('relay_log').where('at', '<', cutoff).delete();
    },

    /** Staff view of the log, newest first, optionally for one user. */
    async readLog(filter: { userId?: string; from: Date; to: Date; beforeId?: number }, limit: number) {
      const q = db('relay_log').whereBetween('at', [filter.from, filter.to]).orderBy('id', 'desc').limit(limit);
      if (filter.userId) q.where('user_id', filter.userId);
      if (filter.beforeId) q.where('id', '<', filter.beforeId);
      const rows = await q.select('id', 'at', 'api_key_id', 'user_id', 'environment', 'provider', 'model', 'status', 'reason', 'input_tokens', 'output_tokens', 'cached_tokens', 'latency_ms', 'cost_microcents');
      return rows.map((r) => ({
        id: Number(r.id), at: r.at as Date, apiKeyId: r.api_key_id as string, userId: r.user_id as string, environment: r.environment as string, provider: r.provider as string,
        model: r.model as string, status: r.status as number, reason: r.reason as string, inputTokens: r.input_tokens as number, outputTokens: r.output_tokens as number,
        cachedTokens: r.cached_tokens as number, latencyMs: r.latency_ms as number, costMicrocents: Number(r.cost_microcents),
      }));
    },

    async storedCredential(provider: string, environment: KeyEnvironment): Promise<{ ciphertext: Buffer; updatedAt: Date } | null> {
      const row = await db('relay_provider_credentials').where({ provider, environment }).first();
      return row ? { ciphertext: row.api_key_enc, updatedAt: row.updated_at } : null;
    },
    async storedCredentialList(): Promise<Array<{ provider: string; environment: KeyEnvironment; updatedAt: Date }>> {
      return (await db('relay_provider_credentials').select('provider', 'environment', 'updated_at')).map((r) => ({ provider: r.provider, environment: r.environment, updatedAt: r.updated_at }));
    },
    async storeCredential(provider: string, environment: KeyEnvironment, ciphertext: Buffer, staffId: string): Promise<void> {
      await db('relay_provider_credentials').insert({ provider, environment, api_key_enc: ciphertext, updated_by: staffId, updated_at: db.fn.now() })
        .onConflict(['provider', 'environment']).merge();
    },
    async deleteCredential(provider: string, environment: KeyEnvironment): Promise<boolean> {
      return (await db('relay_provider_credentials').where({ provider, environment }).delete()) > 0;
    },

    /** Every key of the user, revoked ones included (exports). */
    async allKeys(userId: string): Promise<ApiKeyRecord[]> {
      return (await keys().where({ user_id: userId }).orderBy('created_at').select(PUBLIC_COLUMNS)).map((r) => toRecord(r as unknown as ApiKeyRow));
    },

    async oldestLogAt(): Promise<Date | null> {
      const row = await db('relay_log').min('at as at').first();
      return row?.at ? new Date(row.at as string | Date) : null;
    },

    /**
     * Columns of relay_log, as the running database has them, that could hold free text: of a
     * text, JSON or binary type and not narrowed by a CHECK constraint. Empty by construction.
     */
    async logFreeTextColumns(): Promise<string[]> {
      const { rows } = await db.raw(`
        SELECT a.attname AS name
          FROM pg_attribute a
         WHERE a.attrelid = 'relay_log'::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'json'::regtype, 'jsonb'::regtype, 'bytea'::regtype, 'xml'::regtype)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'c' AND a.attnum = ANY (c.conkey))
         ORDER BY a.attnum`);
      return (rows as Array<{ name: string }>).map((r) => r.name);
    },
  };
}

export type RelayRepo = ReturnType<typeof createRelayRepo>;
