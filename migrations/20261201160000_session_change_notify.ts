import type { Knex } from 'knex';

// Every change that can alter what a bearer token resolves to is announced on the channel
// `custos_session_changed`, with the owner's id as the payload ('*': everything). Each API
// replica LISTENs and drops its cached sessions of that owner (src/modules/accounts/session-cache.ts),
// so a revocation, lock, deletion request, 2FA change or crypto-shredding committed by any
// process, module or hand-written SQL reaches every replica: PostgreSQL sends a notification
// only on commit, from the transaction that made the change.
// The idle-clock touch (last_seen_at moving forward, nothing else) is the one update left out.
// The key store has its own function in its own schema: its backup (pg_dump --schema=keystore)
// and the data backup (--exclude-schema=keystore) each restore on their own.
const sessionsFunction = `
  CREATE OR REPLACE FUNCTION custos_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
      PERFORM pg_notify('custos_session_changed', '*');
      RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'sessions' THEN
      IF TG_OP = 'UPDATE' AND NEW.last_seen_at >= OLD.last_seen_at
         AND (to_jsonb(NEW) - 'last_seen_at') = (to_jsonb(OLD) - 'last_seen_at') THEN
        RETURN NULL;
      END IF;
      PERFORM pg_notify('custos_session_changed', coalesce(OLD.user_id, OLD.staff_id)::text);
      IF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('custos_session_changed', coalesce(NEW.user_id, NEW.staff_id)::text);
      END IF;
    ELSE
      PERFORM pg_notify('custos_session_changed', OLD.id::text);
    END IF;
    RETURN NULL;
  END $$`;

const dataKeysFunction = `
  CREATE OR REPLACE FUNCTION keystore.data_key_destroyed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('custos_session_changed', CASE WHEN TG_LEVEL = 'STATEMENT' THEN '*' ELSE OLD.subject_id::text END);
    RETURN NULL;
  END $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(sessionsFunction);
  for (const table of ['sessions', 'users', 'staff_members']) {
    await knex.raw(`DROP TRIGGER IF EXISTS ${table}_changed ON ${table}`);
    await knex.raw(`CREATE TRIGGER ${table}_changed AFTER UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION custos_session_changed()`);
    await knex.raw(`DROP TRIGGER IF EXISTS ${table}_truncated ON ${table}`);
    await knex.raw(`CREATE TRIGGER ${table}_truncated AFTER TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION custos_session_changed()`);
  }
  // A destroyed data key makes the owner's session data unreadable, which resolving refuses.
  await knex.raw(dataKeysFunction);
  await knex.raw('DROP TRIGGER IF EXISTS data_keys_changed ON keystore.data_keys');
  await knex.raw('CREATE TRIGGER data_keys_changed AFTER DELETE ON keystore.data_keys FOR EACH ROW EXECUTE FUNCTION keystore.data_key_destroyed()');
  await knex.raw('DROP TRIGGER IF EXISTS data_keys_truncated ON keystore.data_keys');
  await knex.raw('CREATE TRIGGER data_keys_truncated AFTER TRUNCATE ON keystore.data_keys FOR EACH STATEMENT EXECUTE FUNCTION keystore.data_key_destroyed()');
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['sessions', 'users', 'staff_members', 'keystore.data_keys']) {
    const name = table.split('.').pop();
    await knex.raw(`DROP TRIGGER IF EXISTS ${name}_changed ON ${table}`);
    await knex.raw(`DROP TRIGGER IF EXISTS ${name}_truncated ON ${table}`);
  }
  await knex.raw('DROP FUNCTION IF EXISTS keystore.data_key_destroyed()');
  await knex.raw('DROP FUNCTION IF EXISTS custos_session_changed()');
}
