import type { Knex } from 'knex';

// Evidence the trust posture cites that no other module records: when the audit trail was last
// verified end to end, and with what result. One row per run; the posture reads the newest.
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('trust_evidence')) return;
  await knex.schema.createTable('trust_evidence', (t) => {
    t.bigIncrements('id');
    t.text('kind').notNullable();
    t.boolean('ok').notNullable();
    t.jsonb('detail').notNullable().defaultTo('{}');
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['kind', 'recorded_at']);
  });
  await knex.raw(`ALTER TABLE trust_evidence ADD CONSTRAINT trust_evidence_kind_check CHECK (kind IN ('audit_verification'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('trust_evidence');
}
