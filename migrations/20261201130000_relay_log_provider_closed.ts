import type { Knex } from 'knex';

// relay_log.provider was the one text column of the log without a CHECK: close it too, so every
// text column of the log is a fixed vocabulary. The trust centre's `relay.content_retained`
// claim is computed from exactly this (no unconstrained text-capable column in relay_log).
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE relay_log ADD CONSTRAINT relay_log_provider_check CHECK (provider IN ('openai', 'anthropic', 'xai', 'google'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE relay_log DROP CONSTRAINT IF EXISTS relay_log_provider_check');
}
