import type { Knex } from 'knex';

// Relay API keys. The key itself is never stored: only SHA-256(salt || pepper || key), with a
// per-key random salt, and the non-secret prefix it is looked up by (unique). `limit_group_id`
// is the id of the first key of a rotation chain: a rotated key keeps spending against the same
// monthly limit, so rotating cannot reset a budget.
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasTable('api_keys')) return;
  await knex.schema.createTable('api_keys', (t) => {
    t.uuid('id').primary();
    t.uuid('user_id').notNullable().references('id').inTable('users');
    t.uuid('limit_group_id').notNullable();
    t.text('prefix').notNullable().unique();
    t.binary('salt').notNullable();
    t.binary('key_hash').notNullable();
    t.text('name').notNullable();
    t.text('environment').notNullable();
    t.bigInteger('spending_limit_cents');
    t.specificType('models', 'text[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.timestamp('last_used_at', { useTz: true });
    t.uuid('replaced_by');
    t.index(['user_id', 'created_at']);
  });
  await knex.raw(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_environment_check CHECK (environment IN ('live', 'test'))`);
  await knex.raw(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_salt_check CHECK (octet_length(salt) = 16 AND octet_length(key_hash) = 32)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('api_keys');
}
