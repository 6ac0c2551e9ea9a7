// The trust module's SQL for the posture's evidence and for vulnerability reports. Rows are
// mapped to domain objects here; ciphertexts leave only as Buffers for the service to open.
import type { Knex } from '../../platform/db.js';
import type { VulnerabilityReportRow, VulnerabilityState } from './trust-types.js';

const reportFromRow = (r: Record<string, any>): VulnerabilityReportRow => ({
  id: r.id,
  title: r.title,
  descriptionEnc: r.description_enc,
  emailEnc: r.email_enc,
  pgpEncrypted: r.pgp_encrypted,
  credit: r.credit,
  state: r.state,
  receivedAt: r.received_at,
  acknowledgedAt: r.acknowledged_at,
  triagedAt: r.triaged_at,
  fixedAt: r.fixed_at,
  disclosedAt: r.disclosed_at,
  rejectedAt: r.rejected_at,
  updatedAt: r.updated_at,
});

const stateColumn: Record<VulnerabilityState, string | null> = {
  received: null,
  acknowledged: 'acknowledged_at',
  triaged: 'triaged_at',
  fixed: 'fixed_at',
  disclosed: 'disclosed_at',
  rejected: 'rejected_at',
};

export function createTrustRepo(db: Knex) {
  return {
    /** Every encrypted field of the schema: bytea columns named *_enc (the field cipher's convention). */
    async encryptedColumns(): Promise<string[]> {
      const rows = await db('information_schema.columns')
        .select('table_schema', 'table_name', 'column_name')
        .where({ data_type: 'bytea' })
        .whereLike('column_name', '%\\_enc')
        .whereNotIn('table_schema', ['pg_catalog', 'information_schema'])
        .orderBy(['table_schema', 'table_name', 'column_name']);
      return rows.map((r) => `${r.table_schema === 'public' ? '' : `${r.table_schema}.`}${r.table_name}.${r.column_name}`);
    },

    async latestEvidence(kind: 'audit_verification'): Promise<{ ok: boolean; recordedAt: Date; detail: Record<string, unknown> } | null> {
      const row = await db('trust_evidence').where({ kind }).orderBy('recorded_at', 'desc').orderBy('id', 'desc').first();
      return row ? { ok: row.ok, recordedAt: row.recorded_at, detail: row.detail } : null;
    },

    async recordEvidence(kind: 'audit_verification', ok: boolean, detail: Record<string, unknown>): Promise<void> {
      await db('trust_evidence').insert({ kind, ok, detail: JSON.stringify(detail) });
    },

    async insertReport(input: { id: string; title: string; descriptionEnc: Buffer; emailEnc: Buffer; pgpEncrypted: boolean; credit: string | null; statusTokenHash: Buffer }): Promise<VulnerabilityReportRow> {
      const [row] = await db('vulnerability_reports').insert({
        id: input.id,
        title: input.title,
        description_enc: input.descriptionEnc,
        email_enc: input.emailEnc,
        pgp_encrypted: input.pgpEncrypted,
        credit: input.credit,
        status_token_hash: input.statusTokenHash,
      }).returning('*');
      return reportFromRow(row);
    },

    async findReport(id: string): Promise<VulnerabilityReportRow | null> {
      const row = await db('vulnerability_reports').where({ id }).first();
      return row ? reportFromRow(row) : null;
    },

    async findReportByTokenHash(hash: Buffer): Promise<VulnerabilityReportRow | null> {
      const row = await db('vulnerability_reports').where({ status_token_hash: hash }).first();
      return row ? reportFromRow(row) : null;
    },

    async listReports(filter: { state?: VulnerabilityState; limit: number }): Promise<VulnerabilityReportRow[]> {
      const q = db('vulnerability_reports').orderBy('received_at', 'desc').orderBy('id').limit(filter.limit);
      if (filter.state) q.where({ state: filter.state });
      return (await q).map(reportFromRow);
    },

    /** Moves a report to `state`, stamping that state's time once (the first time it is reached). */
    async setReportState(id: string, from: VulnerabilityState, state: VulnerabilityState): Promise<VulnerabilityReportRow | null> {
      const column = stateColumn[state];
      const changes: Record<string, unknown> = { state, updated_at: db.fn.now() };
      if (column) changes[column] = db.raw(`coalesce(${column}, now())`);
      const [row] = await db('vulnerability_reports').where({ id, state: from }).update(changes).returning('*');
      return row ? reportFromRow(row) : null;
    },

    /** Credited reporters of disclosed reports, for the acknowledgements page. */
    async credits(): Promise<Array<{ credit: string; title: string; disclosedAt: Date }>> {
      const rows = await db('vulnerability_reports').whereNotNull('credit').where({ state: 'disclosed' })
        .select('credit', 'title', 'disclosed_at').orderBy('disclosed_at', 'desc');
      return rows.map((r) => ({ credit: r.credit, title: r.title, disclosedAt: r.disclosed_at }));
    },
  };
}

export type TrustRepo = ReturnType<typeof createTrustRepo>;
