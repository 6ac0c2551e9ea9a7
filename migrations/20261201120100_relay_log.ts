import type { Knex } from 'knex';

// The relay's records, closed by construction: numbers, identifiers from the catalogue and a
// fixed reason code. No column can hold prompt or completion text (no free text at all: the
// reason is checked against a list, the model against the catalogue before anything is written).
//   relay_log          one row per call, purged after CUSTOS_RELAY_LOG_RETENTION_DAYS;
//   relay_usage_daily  per user, key, model and UTC day, what GET /api/v1/me/usage shows;
//   relay_spend        per limit group and UTC month, the ledger of record behind the Redis
//                      reservation counter (which is rebuilt from it after a Redis loss);
//   relay_charge_carry sub-cent remainders not yet charged to the credit ledger, per user.
// Costs are in micro-cents (1 cent = 1,000,000), so a call of a few tokens is not rounded away.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('relay_log'))) {
    await knex.schema.createTable('relay_log', (t) => {
      t.bigIncrements('id');
      t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.uuid('api_key_id').notNullable();
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.text('environment').notNullable();
      t.text('provider').notNullable();
      t.text('model').notNullable();
      t.integer('status').notNullable();
      t.text('reason').notNullable();
      t.integer('input_tokens').notNullable().defaultTo(0);
      t.integer('output_tokens').notNullable().defaultTo(0);
      t.integer('cached_tokens').notNullable().defaultTo(0);
      t.integer('latency_ms').notNullable();
      t.bigInteger('cost_microcents').notNullable().defaultTo(0);
      t.index(['at']);
      t.index(['user_id', 'at']);
    });
    await knex.raw(`ALTER TABLE relay_log ADD CONSTRAINT relay_log_reason_check CHECK (reason IN ('ok', 'upstream_error', 'upstream_rate_limited', 'upstream_timeout', 'upstream_unreachable', 'client_abort', 'stream_error'))`);
    await knex.raw(`ALTER TABLE relay_log ADD CONSTRAINT relay_log_environment_check CHECK (environment IN ('live', 'test'))`);
    await knex.raw(`ALTER TABLE relay_log ADD CONSTRAINT relay_log_model_check CHECK (model ~ '^[a-z]+/[A-Za-z0-9._:-]{1,100}$')`);
  }
  if (!(await knex.schema.hasTable('relay_usage_daily'))) {
    await knex.schema.createTable('relay_usage_daily', (t) => {
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.uuid('api_key_id').notNullable();
      t.text('model').notNullable();
      t.date('day').notNullable();
      t.text('environment').notNullable();
      t.integer('requests').notNullable().defaultTo(0);
      t.bigInteger('input_tokens').notNullable().defaultTo(0);
      t.bigInteger('output_tokens').notNullable().defaultTo(0);
      t.bigInteger('cached_tokens').notNullable().defaultTo(0);
      t.bigInteger('cost_microcents').notNullable().defaultTo(0);
      t.primary(['user_id', 'api_key_id', 'model', 'day']);
    });
  }
  if (!(await knex.schema.hasTable('relay_spend'))) {
    await knex.schema.createTable('relay_spend', (t) => {
      t.uuid('limit_group_id').notNullable();
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.text('period').notNullable();
      t.bigInteger('spent_microcents').notNullable().defaultTo(0);
      t.primary(['limit_group_id', 'period']);
      t.index(['user_id']);
    });
  }
  if (!(await knex.schema.hasTable('relay_charge_carry'))) {
    await knex.schema.createTable('relay_charge_carry', (t) => {
      t.uuid('user_id').primary().references('id').inTable('users');
      t.bigInteger('carry_microcents').notNullable().defaultTo(0);
      // Whole cents the last settlement made due, set in the same UPDATE as the carry so two
      // concurrent settlements of one user can never charge the same micro-cents twice.
      t.bigInteger('last_due_cents').notNullable().defaultTo(0);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['relay_charge_carry', 'relay_spend', 'relay_usage_daily', 'relay_log']) await knex.schema.dropTableIfExists(table);
}
