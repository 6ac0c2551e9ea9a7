import type { Knex } from 'knex';

// Provider API keys stored by operators (admin route), one per provider and environment.
// api_key_enc is AES-256-GCM under the relay's own data key (platform field cipher), with
// associated data binding it to this table, column and row (provider:environment).
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('relay_provider_credentials')) return;
  await knex.schema.createTable('relay_provider_credentials', (t) => {
    t.text('provider').notNullable();
    t.text('environment').notNullable();
    t.binary('api_key_enc').notNullable();
    t.uuid('updated_by').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['provider', 'environment']);
  });
  await knex.raw(`ALTER TABLE relay_provider_credentials ADD CONSTRAINT relay_provider_credentials_check CHECK (provider IN ('openai', 'anthropic', 'xai', 'google') AND environment IN ('live', 'test'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('relay_provider_credentials');
}
