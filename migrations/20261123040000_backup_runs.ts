import type { Knex } from 'knex';

// One row per backup (data or key store): the durable record of every run, its hashes and its
// last verification, so a lost Redis job or a killed worker never hides a missing backup.
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('backup_runs')) return;
  await knex.schema.createTable('backup_runs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('kind').notNullable();
    t.text('status').notNullable().defaultTo('running');
    // The nightly date a scheduled run belongs to (null for manual runs): makes the job idempotent.
    t.date('scheduled_for');
    t.text('storage_key');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.bigInteger('size_bytes');
    t.bigInteger('plaintext_bytes');
    t.text('plaintext_sha256');
    t.text('ciphertext_sha256');
    t.text('error');
    t.timestamp('verified_at', { useTz: true });
    t.text('verify_status');
    t.text('verify_error');
    t.integer('verify_duration_ms');
    t.timestamp('deleted_at', { useTz: true });
    t.index(['kind', 'started_at']);
  });
  await knex.raw(`ALTER TABLE backup_runs ADD CONSTRAINT backup_runs_kind_check CHECK (kind IN ('data', 'keystore'))`);
  await knex.raw(`ALTER TABLE backup_runs ADD CONSTRAINT backup_runs_status_check CHECK (status IN ('running', 'succeeded', 'failed', 'deleted'))`);
  await knex.raw(`ALTER TABLE backup_runs ADD CONSTRAINT backup_runs_verify_status_check CHECK (verify_status IN ('passed', 'failed'))`);
  // At most one live scheduled run per kind and night; a failed one may be retried.
  await knex.raw(`CREATE UNIQUE INDEX backup_runs_scheduled_unique ON backup_runs (kind, scheduled_for) WHERE scheduled_for IS NOT NULL AND status <> 'failed'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('backup_runs');
}
