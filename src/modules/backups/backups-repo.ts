// The SQL of the backups domain: backup_runs, plus the catalogue queries a backup needs
// (snapshot, row counts, server and schema version). The only file here that imports knex.
import type { Knex } from '../../platform/db.js';
import type { BackupKind, BackupRun, BackupStatus } from './backups-types.js';

type Row = Record<string, any>;

const toRun = (r: Row): BackupRun => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  scheduledFor: r.scheduled_for ? formatDate(r.scheduled_for) : null,
  storageKey: r.storage_key,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  sizeBytes: r.size_bytes,
  plaintextBytes: r.plaintext_bytes,
  plaintextSha256: r.plaintext_sha256,
  ciphertextSha256: r.ciphertext_sha256,
  error: r.error,
  verifiedAt: r.verified_at,
  verifyStatus: r.verify_status,
  verifyError: r.verify_error,
  verifyDurationMs: r.verify_duration_ms,
  deletedAt: r.deleted_at,
  leaseOwner: r.lease_owner ?? null,
  leaseExpiresAt: r.lease_expires_at ?? null,
});

/** A worker's hold on a running backup: who, and for how long each renewal extends it. */
export interface BackupLease {
  owner: string;
  ms: number;
}

// pg returns DATE as a local-midnight Date; format it back without a time-zone shift.
const formatDate = (d: Date | string) => (typeof d === 'string' ? d : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`);

/** Tables whose rows a backup of `kind` holds: the key store alone, or everything else. */
const tablesQuery = (db: Knex, kind: BackupKind) =>
  db('pg_catalog.pg_tables')
    .select('schemaname', 'tablename')
    .whereNotIn('schemaname', ['pg_catalog', 'information_schema'])
    .andWhere((q) => (kind === 'keystore' ? q.where('schemaname', 'keystore') : q.whereNot('schemaname', 'keystore')))
    .orderBy(['schemaname', 'tablename']);

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function createBackupsRepo(db: Knex) {
  return {
    async insertRun(input: { kind: BackupKind; scheduledFor?: string; startedAt?: Date; lease?: BackupLease }): Promise<BackupRun> {
      const [row] = await db('backup_runs')
        .insert({
          kind: input.kind, scheduled_for: input.scheduledFor ?? null, ...(input.startedAt ? { started_at: input.startedAt } : {}),
          ...(input.lease ? { lease_owner: input.lease.owner, lease_expires_at: db.raw(`now() + ? * interval '1 millisecond'`, [input.lease.ms]) } : {}),
        })
        .returning('*');
      return toRun(row);
    },
    /** Extends a running backup's lease; false once it expired or the run is no longer this worker's. */
    async renewLease(id: string, lease: BackupLease): Promise<boolean> {
      const n = await db('backup_runs').where({ id, status: 'running', lease_owner: lease.owner }).andWhere('lease_expires_at', '>', db.fn.now())
        .update({ lease_expires_at: db.raw(`now() + ? * interval '1 millisecond'`, [lease.ms]) });
      return n > 0;
    },
    /**
     * A 'running' row whose worker is gone (lease expired, or none recorded) becomes failed, so a
     * retry may start and prune may remove what it left. False while a live worker holds it.
     */
    async markInterrupted(id: string): Promise<boolean> {
      const n = await db('backup_runs').where({ id, status: 'running' })
        .andWhere((q) => q.whereNull('lease_expires_at').orWhere('lease_expires_at', '<=', db.fn.now()))
        .update({ status: 'failed', finished_at: db.fn.now(), error: 'interrupted: its worker stopped before the backup finished' });
      return n > 0;
    },
    async findRun(id: string): Promise<BackupRun | null> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const row = await db('backup_runs').where({ id }).first();
      return row ? toRun(row) : null;
    },
    async findScheduled(kind: BackupKind, date: string): Promise<BackupRun | null> {
      const row = await db('backup_runs').where({ kind, scheduled_for: date }).whereNot('status', 'failed').first();
      return row ? toRun(row) : null;
    },
    async latestSucceeded(kind: BackupKind): Promise<BackupRun | null> {
      const row = await db('backup_runs').where({ kind, status: 'succeeded' }).orderBy('started_at', 'desc').first();
      return row ? toRun(row) : null;
    },
    async listRuns(filter: { kind?: BackupKind; status?: BackupStatus; limit?: number; filesLeft?: boolean } = {}): Promise<BackupRun[]> {
      const q = db('backup_runs').orderBy('started_at', 'desc').limit(filter.limit ?? 100);
      if (filter.kind) q.where('kind', filter.kind);
      if (filter.status) q.where('status', filter.status);
      if (filter.filesLeft) q.whereNull('deleted_at');
      return (await q).map(toRun);
    },
    async setStorageKey(id: string, storageKey: string) {
      await db('backup_runs').where({ id }).update({ storage_key: storageKey });
    },
    /** False unless the run is still running under this lease (else another attempt took it over). */
    async markSucceeded(id: string, lease: BackupLease, result: { sizeBytes: number; plaintextBytes: number; plaintextSha256: string; ciphertextSha256: string; finishedAt: Date }): Promise<boolean> {
      const n = await db('backup_runs').where({ id, status: 'running', lease_owner: lease.owner }).update({
        lease_expires_at: db.fn.now(),
        status: 'succeeded',
        size_bytes: result.sizeBytes,
        plaintext_bytes: result.plaintextBytes,
        plaintext_sha256: result.plaintextSha256,
        ciphertext_sha256: result.ciphertextSha256,
        finished_at: result.finishedAt,
        error: null,
      });
      return n > 0;
    },
    async markFailed(id: string, error: string) {
      await db('backup_runs').where({ id }).whereNot('status', 'deleted')
        .update({ status: 'failed', finished_at: db.fn.now(), error: error.slice(0, 2000), lease_expires_at: db.fn.now() });
    },
    /** A failed run's files are gone: it stays failed (with its error) for the record. */
    async markFilesDeleted(id: string) {
      await db('backup_runs').where({ id }).update({ deleted_at: db.fn.now() });
    },
    async recordVerify(id: string, result: { ok: boolean; durationMs: number; error?: string }) {
      await db('backup_runs').where({ id }).update({
        verified_at: db.fn.now(),
        verify_status: result.ok ? 'passed' : 'failed',
        verify_error: result.error?.slice(0, 2000) ?? null,
        verify_duration_ms: result.durationMs,
      });
    },
    async markDeleted(id: string) {
      await db('backup_runs').where({ id }).update({ status: 'deleted', deleted_at: db.fn.now() });
    },

    async serverVersion(): Promise<string> {
      return (await db.raw('SHOW server_version')).rows[0].server_version;
    },
    /** The newest applied migration's name: the schema version a restore needs to match. */
    async schemaVersion(): Promise<string | null> {
      if (!(await db.schema.hasTable('knex_migrations'))) return null;
      const row = await db('knex_migrations').orderBy('id', 'desc').first('name');
      return row?.name ?? null;
    },

    /**
     * Opens a read-only REPEATABLE READ transaction, exports its snapshot for pg_dump --snapshot and
     * counts rows in it, so the recorded counts describe exactly the rows pg_dump writes.
     * The transaction stays open until `work` settles.
     */
    async withExportedSnapshot<T>(kind: BackupKind, work: (snapshot: string, rowCounts: Record<string, number>) => Promise<T>): Promise<T> {
      return db.transaction(async (trx) => {
        await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        const snapshot: string = (await trx.raw('SELECT pg_export_snapshot() AS s')).rows[0].s;
        const rowCounts = await countRows(trx, kind);
        return work(snapshot, rowCounts);
      });
    },
  };
}

/** Exact row counts per table ("schema.table") in the database `db` points at. */
export async function countRows(db: Knex, kind: BackupKind): Promise<Record<string, number>> {
  const tables: Array<{ schemaname: string; tablename: string }> = await tablesQuery(db, kind);
  if (tables.length === 0) return {};
  const union = tables
    .map((t) => `SELECT '${`${t.schemaname}.${t.tablename}`.replace(/'/g, "''")}' AS name, count(*)::bigint AS n FROM ${quoteIdent(t.schemaname)}.${quoteIdent(t.tablename)}`)
    .join(' UNION ALL ');
  const rows: Array<{ name: string; n: number }> = (await db.raw(union)).rows;
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
}

/** Number of tables outside the system schemas: a restore target must have none unless forced. */
export async function countUserTables(db: Knex): Promise<number> {
  const row = await db('pg_catalog.pg_tables').whereNotIn('schemaname', ['pg_catalog', 'information_schema']).count<{ n: number }[]>('* as n').first();
  return Number(row?.n ?? 0);
}

export type BackupsRepo = ReturnType<typeof createBackupsRepo>;
