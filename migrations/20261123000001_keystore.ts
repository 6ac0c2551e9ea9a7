import type { Knex } from 'knex';

// The key store lives in its own schema so it can be backed up apart from the data, with a
// shorter retention (crypto-shredding must reach old backups once that window has passed).
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pgcrypto');
  await knex.raw('CREATE SCHEMA IF NOT EXISTS keystore');
  if (!(await knex.schema.withSchema('keystore').hasTable('data_keys'))) {
    await knex.schema.withSchema('keystore').createTable('data_keys', (t) => {
      t.uuid('id').primary();
      t.uuid('subject_id').notNullable().unique();
      t.integer('kek_version').notNullable();
      t.binary('wrapped_key').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('rewrapped_at', { useTz: true });
      t.index(['kek_version']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP SCHEMA IF EXISTS keystore CASCADE');
}
