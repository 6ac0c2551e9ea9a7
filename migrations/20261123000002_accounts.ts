import type { Knex } from 'knex';

// Users and staff are separate accounts: a staff credential can never act as a user and the
// reverse. Sessions and recovery codes belong to exactly one of them.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('email').notNullable().unique();
    t.text('password_hash').notNullable();
    t.binary('totp_secret_enc');
    t.timestamp('totp_confirmed_at', { useTz: true });
    t.bigInteger('totp_last_step');
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'locked', 'pending_deletion'))`);

  await knex.schema.createTable('staff_members', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('email').notNullable().unique();
    t.text('role').notNullable();
    t.text('password_hash').notNullable();
    t.binary('totp_secret_enc');
    t.timestamp('totp_confirmed_at', { useTz: true });
    t.bigInteger('totp_last_step');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('disabled_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE staff_members ADD CONSTRAINT staff_members_role_check CHECK (role IN ('support', 'dpo', 'security', 'admin'))`);

  await knex.schema.createTable('sessions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.binary('token_hash').notNullable().unique();
    t.uuid('user_id').references('id').inTable('users').onDelete('CASCADE');
    t.uuid('staff_id').references('id').inTable('staff_members').onDelete('CASCADE');
    // user agent, IP and second-factor state, AES-256-GCM under the owner's data key
    t.binary('data_enc').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true });
    t.index(['user_id']);
    t.index(['staff_id']);
  });
  await knex.raw('ALTER TABLE sessions ADD CONSTRAINT sessions_one_owner CHECK (num_nonnulls(user_id, staff_id) = 1)');

  await knex.schema.createTable('recovery_codes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('user_id').references('id').inTable('users').onDelete('CASCADE');
    t.uuid('staff_id').references('id').inTable('staff_members').onDelete('CASCADE');
    t.binary('code_hash').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true });
    t.index(['user_id']);
    t.index(['staff_id']);
  });
  await knex.raw('ALTER TABLE recovery_codes ADD CONSTRAINT recovery_codes_one_owner CHECK (num_nonnulls(user_id, staff_id) = 1)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('recovery_codes');
  await knex.schema.dropTableIfExists('sessions');
  await knex.schema.dropTableIfExists('staff_members');
  await knex.schema.dropTableIfExists('users');
}
