import type { Knex } from 'knex';

// Sub-processors (GDPR Art. 28(2): customers must be told of intended additions or replacements
// and given the chance to object), their announced changes with the notice given, and the
// double-opt-in subscriptions the change notices go to. A subscriber's email is stored
// encrypted under the subscription's own data key, with a peppered hash for uniqueness; tokens
// only as SHA-256. The confirmation link of a queued message is the one secret an outbox row
// carries, so it is encrypted too (link_enc).
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('subprocessors'))) {
    await knex.schema.createTable('subprocessors', (t) => {
      t.uuid('id').primary();
      t.text('name').notNullable();
      t.text('purpose').notNullable();
      t.text('location').notNullable();
      t.specificType('data_categories', 'text[]').notNullable();
      t.timestamp('effective_at', { useTz: true }).notNullable();
      t.timestamp('removal_effective_at', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['effective_at']);
    });
  }
  if (!(await knex.schema.hasTable('subprocessor_changes'))) {
    await knex.schema.createTable('subprocessor_changes', (t) => {
      t.uuid('id').primary();
      t.uuid('subprocessor_id').notNullable().references('id').inTable('subprocessors').onDelete('CASCADE');
      t.text('kind').notNullable();
      t.text('summary').notNullable();
      t.timestamp('announced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('effective_at', { useTz: true }).notNullable();
      t.timestamp('announce_notices_at', { useTz: true });
      t.timestamp('effective_notices_at', { useTz: true });
      t.index(['subprocessor_id']);
      t.index(['effective_at']);
    });
    await knex.raw(`ALTER TABLE subprocessor_changes ADD CONSTRAINT subprocessor_changes_kind_check CHECK (kind IN ('added', 'changed', 'removed'))`);
  }
  if (!(await knex.schema.hasTable('trust_subscriptions'))) {
    await knex.schema.createTable('trust_subscriptions', (t) => {
      t.uuid('id').primary();
      t.binary('email_hash').notNullable().unique();
      t.binary('email_enc').notNullable();
      t.binary('confirm_token_hash').notNullable().unique();
      t.text('state').notNullable().defaultTo('pending');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('confirmed_at', { useTz: true });
      t.index(['state']);
    });
    await knex.raw(`ALTER TABLE trust_subscriptions ADD CONSTRAINT trust_subscriptions_state_check CHECK (state IN ('pending', 'confirmed'))`);
  }
  if (!(await knex.schema.hasColumn('trust_outbox', 'link_enc'))) {
    await knex.schema.alterTable('trust_outbox', (t) => {
      t.binary('link_enc');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('trust_outbox', 'link_enc')) await knex.schema.alterTable('trust_outbox', (t) => t.dropColumn('link_enc'));
  for (const table of ['trust_subscriptions', 'subprocessor_changes', 'subprocessors']) await knex.schema.dropTableIfExists(table);
}
