// The SQL of the audit trail. Writers only INSERT into audit_events; the sealer only INSERTs into
// audit_chain; checkpoints are INSERT-only too (see the migration's triggers).
import type { Knex } from '../../platform/db.js';
import type { AuditEvent, AuditEventInput, ChainLink, Checkpoint, EventFilter } from './audit-types.js';

// The time is read as text with microseconds: a JS Date keeps milliseconds only, and a change
// below a millisecond must still change the hash.
const EVENT_COLUMNS = `seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
  actor_kind, actor_staff_id, actor_email, actor_role, action, outcome, subject_user_id, resource_type,
  resource_ids, reason, justification, request_id, source_ip, user_agent, detail`;

// The canonical form (see audit-chain.ts) built by PostgreSQL, byte for byte what
// JSON.stringify produces for canonicalEvent(): to_json escapes strings as JSON does, and every
// column is coalesced to null. Sealing and verifying then parse one text column per row instead
// of seventeen, which is what makes verifying a million events take seconds (a test checks the
// two definitions agree, tricky characters included).
const col = (expr: string) => `coalesce(to_json(${expr})::text, 'null')`;
const ESCAPING_SQL = `'["custos.audit.v1",' || seq::text || ',' || concat_ws(',',
  ${col(`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`)}, ${col('actor_kind')}, ${col('actor_staff_id')},
  ${col('actor_email')}, ${col('actor_role')}, ${col('action')}, ${col('outcome')}, ${col('subject_user_id')}, ${col('resource_type')},
  ${col('resource_ids')}, ${col('reason')}, ${col('justification')}, ${col('request_id')}, ${col('source_ip')}, ${col('user_agent')},
  ${col('detail')}) || ']'`;
// to_json per column is most of the cost of verifying (about 0.5 µs each). A string holding no
// quote, backslash or control character (U+0001–U+001F) is the same in JSON as in quotes, so when
// no text column of the row holds one (the usual case, checked with one regex over all of them),
// the row is quoted directly; otherwise the escaping form above is used. resource_ids always
// goes through to_json. Measured ~30 % less PostgreSQL CPU per event.
const TEXT_COLUMNS = ['actor_kind', 'actor_staff_id::text', 'actor_email', 'actor_role', 'action', 'outcome', 'subject_user_id::text',
  'resource_type', 'reason', 'justification', 'request_id', 'source_ip', 'user_agent', 'detail'];
const quoted = (expr: string) => `coalesce('"' || ${expr} || '"', 'null')`;
const PLAIN_SQL = `'["custos.audit.v1",' || seq::text || ',"' || to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '",'
  || ${TEXT_COLUMNS.slice(0, 8).map(quoted).join(" || ',' || ")} || ',' || to_json(resource_ids)::text || ','
  || ${TEXT_COLUMNS.slice(8).map(quoted).join(" || ',' || ")} || ']'`;
export const CANONICAL_SQL = `(CASE WHEN (${TEXT_COLUMNS.map((c) => `coalesce(${c}, '')`).join(' || ')}) ~ '[\\x01-\\x1f"\\\\]'
  THEN ${ESCAPING_SQL} ELSE ${PLAIN_SQL} END)`;

export interface CanonicalRow { seq: number; canonical: string }
export interface PurgeEvent { seq: number; occurredAt: string; actorKind: string; outcome: string; resourceType: string | null; detail: string | null }

type EventRow = {
  seq: number; occurred_at: string; actor_kind: AuditEvent['actorKind']; actor_staff_id: string | null; actor_email: string | null;
  actor_role: string | null; action: string; outcome: AuditEvent['outcome']; subject_user_id: string | null; resource_type: string | null;
  resource_ids: string[]; reason: string | null; justification: string | null; request_id: string | null; source_ip: string | null;
  user_agent: string | null; detail: string | null;
};

export const toEvent = (r: EventRow): AuditEvent => ({
  seq: Number(r.seq), occurredAt: r.occurred_at, actorKind: r.actor_kind, actorStaffId: r.actor_staff_id, actorEmail: r.actor_email,
  actorRole: r.actor_role, action: r.action, outcome: r.outcome, subjectUserId: r.subject_user_id, resourceType: r.resource_type,
  resourceIds: r.resource_ids, reason: r.reason, justification: r.justification, requestId: r.request_id, sourceIp: r.source_ip,
  userAgent: r.user_agent, detail: r.detail,
});

type ChainRow = { seq: number; kind: ChainLink['kind']; event_hash: Buffer; chain_hash: Buffer };
const toLink = (r: ChainRow): ChainLink => ({ seq: Number(r.seq), kind: r.kind, eventHash: r.event_hash, chainHash: r.chain_hash });

type CheckpointRow = { id: number; seq: number; chain_hash: Buffer; signed_at: string; key_fingerprint: string; signature: string };
const toCheckpoint = (r: CheckpointRow): Checkpoint => ({
  id: Number(r.id), seq: Number(r.seq), chainHash: r.chain_hash, signedAt: r.signed_at, keyFingerprint: r.key_fingerprint, signature: r.signature,
});
const CHECKPOINT_COLUMNS = `id, seq, chain_hash, to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS signed_at, key_fingerprint, signature`;

const INSERT_EVENT_SQL = `INSERT INTO audit_events (actor_kind, actor_staff_id, actor_email, actor_role, action, outcome, subject_user_id,
  resource_type, resource_ids, reason, justification, request_id, source_ip, user_agent, detail)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::text[], ?, ?, ?, ?, ?, ?) RETURNING seq`;

/** One advisory lock key for the sealer, so replicas never seal concurrently. */
const SEAL_LOCK = 0x637573746f73; // "custos"

function applyFilter(q: Knex.QueryBuilder, f: EventFilter) {
  if (f.staffId) q.where('actor_staff_id', f.staffId);
  if (f.userId) q.where('subject_user_id', f.userId);
  if (f.action) q.where('action', f.action);
  if (f.reason) q.where('reason', f.reason);
  if (f.outcome) q.where('outcome', f.outcome);
  if (f.from) q.where('occurred_at', '>=', f.from);
  if (f.to) q.where('occurred_at', '<', f.to);
  return q;
}

export function createAuditRepo(db: Knex) {
  return {
    /**
     * One autocommit INSERT per event: this is on the path of every audited staff read, so the SQL
     * is written once (no query builder per call) and the round trip returns only the seq.
     */
    async insertEvent(e: AuditEventInput, q: Knex = db): Promise<{ seq: number }> {
      const actor = e.actor.kind === 'staff' ? e.actor : null;
      const { rows } = await q.raw(INSERT_EVENT_SQL, [
        e.actor.kind, actor?.staffId ?? null, actor?.email ?? null, actor?.role ?? null, e.action, e.outcome, e.subjectUserId ?? null,
        e.resourceType ?? null, e.resourceIds ?? [], e.reason ?? null, e.justification ?? null, e.requestId ?? null, e.sourceIp ?? null,
        e.userAgent ?? null, e.detail ?? null,
      ] as never);
      return { seq: Number(rows[0].seq) };
    },

    /** Runs `fn` in a transaction holding the sealer lock (waits for a concurrent sealer). */
    withSealLock<T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
      return db.transaction(async (trx) => {
        await trx.raw('SELECT pg_advisory_xact_lock(?)', [SEAL_LOCK]);
        return fn(trx);
      });
    },

    async lastLink(q: Knex = db): Promise<ChainLink | null> {
      const row = await q('audit_chain').orderBy('seq', 'desc').first();
      return row ? toLink(row) : null;
    },

    /**
     * Events after `seq` in order, each as the SHA-256 of its canonical form (computed where the
     * row is, so the sealer, which runs in the API process, parses 32 bytes per event instead of
     * its text), with whether it is older than the gap grace period.
     */
    async eventsToSeal(trx: Knex, afterSeq: number, limit: number, graceSeconds: number): Promise<Array<{ seq: number; hash: Buffer; settled: boolean }>> {
      const { rows } = await trx.raw(
        `SELECT seq, sha256(convert_to(${CANONICAL_SQL}, 'UTF8')) AS hash, occurred_at < clock_timestamp() - make_interval(secs => ?) AS settled
         FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`, [graceSeconds, afterSeq, limit]);
      return rows.map((r: { seq: string; hash: Buffer; settled: boolean }) => ({ seq: Number(r.seq), hash: r.hash, settled: r.settled }));
    },

    /** Canonical forms of the events in a range, for verification. */
    async canonicalInRange(fromSeq: number, toSeq: number, q: Knex = db): Promise<CanonicalRow[]> {
      const { rows } = await q.raw(`SELECT seq, ${CANONICAL_SQL} AS canonical FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq`, [fromSeq, toSeq]);
      return rows.map((r: CanonicalRow) => ({ seq: Number(r.seq), canonical: r.canonical }));
    },

    /**
     * The fast verification pass over a range: PostgreSQL recomputes each event's hash from its
     * row and compares it with the seal. Returns the seals packed as 73 bytes each (seq as int8,
     * kind 1 = event / 0 = void, event hash, chain hash) for the verifier to check the chain, and
     * the sequence numbers whose event does not match its seal (or exists where a void was sealed).
     */
    async verifyRange(fromSeq: number, toSeq: number): Promise<{ links: Buffer; suspects: number[] }> {
      const { rows } = await db.raw(`
        SELECT coalesce(string_agg(int8send(c.seq) || CASE WHEN c.kind = 'event' THEN '\\x01'::bytea ELSE '\\x00'::bytea END
                 || c.event_hash || c.chain_hash, ''::bytea ORDER BY c.seq), ''::bytea) AS links,
               coalesce(array_agg(c.seq ORDER BY c.seq) FILTER (WHERE CASE WHEN c.kind = 'event' THEN e.hash IS DISTINCT FROM c.event_hash
                 ELSE e.seq IS NOT NULL END), '{}') AS suspects
        FROM audit_chain c
        LEFT JOIN (SELECT seq, sha256(convert_to(${CANONICAL_SQL}, 'UTF8')) AS hash FROM audit_events WHERE seq BETWEEN ? AND ?) e ON e.seq = c.seq
        WHERE c.seq BETWEEN ? AND ?`, [fromSeq, toSeq, fromSeq, toSeq]);
      return { links: rows[0].links, suspects: rows[0].suspects.map(Number) };
    },

    /** Events (raw columns) with their seals, for the verifier's sample rebuilt outside PostgreSQL. */
    async eventsWithSeals(seqs: number[]): Promise<Array<{ event: AuditEvent; link: ChainLink }>> {
      if (!seqs.length) return [];
      const { rows } = await db.raw(`SELECT ${EVENT_COLUMNS}, kind, event_hash, chain_hash FROM audit_events JOIN audit_chain USING (seq)
        WHERE seq = ANY(?::bigint[]) ORDER BY seq`, [seqs]);
      return rows.map((r: EventRow & ChainRow) => ({ event: toEvent(r), link: toLink(r) }));
    },

    /** Four array parameters instead of a placeholder per value: cheap to build at any batch size. */
    async insertLinks(trx: Knex, links: ChainLink[]): Promise<void> {
      if (!links.length) return;
      await trx.raw(`INSERT INTO audit_chain (seq, kind, event_hash, chain_hash)
        SELECT * FROM unnest(?::bigint[], ?::text[], ?::bytea[], ?::bytea[])`,
      [links.map((l) => l.seq), links.map((l) => l.kind), links.map((l) => l.eventHash), links.map((l) => l.chainHash)] as never);
    },

    async chainPage(afterSeq: number, limit: number): Promise<ChainLink[]> {
      const rows = await db('audit_chain').select('seq', 'kind', 'event_hash', 'chain_hash').where('seq', '>', afterSeq).orderBy('seq').limit(limit);
      return rows.map(toLink);
    },

    /** Seals with fromSeq ≤ seq ≤ toSeq, in order. */
    async chainRange(fromSeq: number, toSeq: number): Promise<ChainLink[]> {
      const rows = await db('audit_chain').select('seq', 'kind', 'event_hash', 'chain_hash').whereBetween('seq', [fromSeq, toSeq]).orderBy('seq');
      return rows.map(toLink);
    },

    async eventsInRange(fromSeq: number, toSeq: number): Promise<AuditEvent[]> {
      const { rows } = await db.raw(`SELECT ${EVENT_COLUMNS} FROM audit_events WHERE seq BETWEEN ? AND ? ORDER BY seq`, [fromSeq, toSeq]);
      return rows.map(toEvent);
    },

    async chainBounds(): Promise<{ first: number | null; last: number | null; count: number }> {
      const row = await db('audit_chain').min('seq as first').max('seq as last').count('* as count').first();
      return { first: row?.first == null ? null : Number(row.first), last: row?.last == null ? null : Number(row.last), count: Number(row?.count ?? 0) };
    },

    async countEventsAfter(seq: number): Promise<number> {
      const row = await db('audit_events').where('seq', '>', seq).count('* as count').first();
      return Number(row?.count ?? 0);
    },

    async checkpoints(): Promise<Checkpoint[]> {
      const { rows } = await db.raw(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq`);
      return rows.map(toCheckpoint);
    },

    async insertCheckpoint(c: Omit<Checkpoint, 'id'>): Promise<Checkpoint> {
      const { rows } = await db.raw(
        `INSERT INTO audit_checkpoints (seq, chain_hash, signed_at, key_fingerprint, signature) VALUES (?, ?, ?::timestamptz, ?, ?)
         RETURNING ${CHECKPOINT_COLUMNS}`, [c.seq, c.chainHash, c.signedAt, c.keyFingerprint, c.signature]);
      return toCheckpoint(rows[0]);
    },

    /**
     * The first `audit.purge` event naming `anchorSeq` (only audit_purge_through() can insert
     * one: see the migration's guard trigger), or null when a range was removed without one.
     */
    async purgeEvent(anchorSeq: number): Promise<PurgeEvent | null> {
      const { rows } = await db.raw(`SELECT seq, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
        actor_kind, outcome, resource_type, detail FROM audit_events
        WHERE action = 'audit.purge' AND ? = ANY(resource_ids) ORDER BY seq LIMIT 1`, [String(anchorSeq)]);
      const r = rows[0];
      return r ? { seq: Number(r.seq), occurredAt: r.occurred_at, actorKind: r.actor_kind, outcome: r.outcome, resourceType: r.resource_type, detail: r.detail } : null;
    },

    /** The retention period `custos migrate` recorded, which the purge function enforces. */
    async recordedRetentionDays(): Promise<number | null> {
      const row = await db('audit_settings').first('retention_days');
      return row ? Number(row.retention_days) : null;
    },

    /** The first sequence number of an event at or after `time`, or null. */
    async firstSeqSince(time: Date): Promise<number | null> {
      const row = await db('audit_events').where('occurred_at', '>=', time).min('seq as seq').first();
      return row?.seq == null ? null : Number(row.seq);
    },

    /**
     * Removes events and seals through a checkpoint. The function (owned by the NOLOGIN audit
     * owner) refuses a range inside the recorded retention period and records the purge itself.
     */
    async purgeThrough(seq: number): Promise<number> {
      const { rows } = await db.raw('SELECT audit_purge_through(?) AS removed', [seq]);
      return Number(rows[0].removed);
    },

    /** Newest first, keyset-paged on seq. */
    async listEvents(filter: EventFilter, beforeSeq: number | null, limit: number): Promise<AuditEvent[]> {
      const q = applyFilter(db('audit_events').select(db.raw(EVENT_COLUMNS)), filter);
      if (beforeSeq !== null) q.where('seq', '<', beforeSeq);
      const rows = await q.orderBy('seq', 'desc').limit(limit);
      return rows.map(toEvent);
    },
  };
}

export type AuditRepo = ReturnType<typeof createAuditRepo>;
