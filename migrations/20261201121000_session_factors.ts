import type { Knex } from 'knex';

// Which factors each session proved: 'password', then 'totp' or 'recovery_code'. Authorization
// reads it (src/platform/http/auth.ts): staff routes need a second factor, and so does a user
// with 2FA on. Sessions from before this migration are marked password-only: that cannot be
// wrong (every session proved its password), and a session that did present a code logs in again.
// The default stays: a row inserted without saying is the least privileged kind.
export async function up(knex: Knex): Promise<void> {
  if (await knex.schema.hasColumn('sessions', 'factors')) return;
  await knex.raw(`ALTER TABLE sessions ADD COLUMN factors text[] NOT NULL DEFAULT '{password}'`);
  await knex.raw(`ALTER TABLE sessions ADD CONSTRAINT sessions_factors_known CHECK (factors <@ ARRAY['password', 'totp', 'recovery_code']::text[] AND 'password' = ANY (factors))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_factors_known');
  await knex.raw('ALTER TABLE sessions DROP COLUMN IF EXISTS factors');
}
