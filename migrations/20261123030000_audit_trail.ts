import type { Knex } from 'knex';

// The staff-access audit trail (DESIGN.md, Security model).
//
// - audit_events: one row per staff access, change or denied attempt. No foreign key to users:
//   entries about an erased user must stay, under the pseudonymous user id (GDPR Art. 17(3)(b)
//   and (e)), and the privacy module erases by walking FKs from users. The staff actor is stored
//   as values (id, email, role at the time) for the same reason.
// - audit_chain: the seal of each sequence number (its event hash and the running chain hash),
//   written by the sealer in sequence order. Kept apart so that neither table is ever updated:
//   writers only INSERT into audit_events, the sealer only INSERTs into audit_chain.
// - audit_checkpoints: signed (Ed25519, key outside the database) latest sequence number + chain
//   hash, written by a scheduled job.
//
// All three refuse UPDATE, DELETE and TRUNCATE in a trigger, for everyone, superusers included
// (privileges do not bind a superuser; triggers do unless disabled). The only deletion path is
// audit_purge_through(seq), which removes whole checkpointed ranges for retention.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE audit_events (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor_kind text NOT NULL CHECK (actor_kind IN ('staff', 'system')),
      actor_staff_id uuid,
      actor_email text,
      actor_role text,
      action text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
      subject_user_id uuid,
      resource_type text,
      resource_ids text[] NOT NULL DEFAULT '{}',
      reason text,
      justification text CHECK (char_length(justification) <= 500),
      request_id text,
      source_ip text,
      user_agent text,
      detail text
    )`);
  await knex.raw('CREATE INDEX audit_events_subject_idx ON audit_events (subject_user_id, seq) WHERE subject_user_id IS NOT NULL');
  await knex.raw('CREATE INDEX audit_events_actor_idx ON audit_events (actor_staff_id, seq) WHERE actor_staff_id IS NOT NULL');
  await knex.raw('CREATE INDEX audit_events_time_idx ON audit_events (occurred_at)');

  await knex.raw(`
    CREATE TABLE audit_chain (
      seq bigint PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('event', 'void')),
      event_hash bytea NOT NULL,
      chain_hash bytea NOT NULL,
      sealed_at timestamptz NOT NULL DEFAULT now()
    )`);

  await knex.raw(`
    CREATE TABLE audit_checkpoints (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      seq bigint NOT NULL UNIQUE,
      chain_hash bytea NOT NULL,
      signed_at timestamptz NOT NULL,
      key_fingerprint text NOT NULL,
      signature text NOT NULL
    )`);

  // Refusal at statement level (so even a statement touching no row fails loudly) and at row
  // level, with one exception: deleting rows at or below the range the purge function has
  // declared for this transaction (events and seals only, never checkpoints: they are the
  // anchors verification starts from after a purge).
  await knex.raw(`
    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE purge_through bigint := coalesce(nullif(current_setting('custos.audit_purge_through', true), '')::bigint, 0);
    BEGIN
      IF TG_OP = 'DELETE' AND TG_ARGV[0] = 'purgeable' AND purge_through > 0 THEN
        IF TG_LEVEL = 'STATEMENT' THEN
          RETURN NULL;
        ELSIF OLD.seq <= purge_through THEN
          RETURN OLD;
        END IF;
      END IF;
      RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`);
  for (const [table, arg] of [['audit_events', 'purgeable'], ['audit_chain', 'purgeable'], ['audit_checkpoints', 'fixed']]) {
    await knex.raw(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change('${arg}')`);
    await knex.raw(`CREATE TRIGGER ${table}_append_only_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change('${arg}')`);
    await knex.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM PUBLIC`);
    await knex.raw(`REVOKE UPDATE, DELETE, TRUNCATE ON ${table} FROM CURRENT_USER`);
  }

  // Retention: removes events and seals through a checkpointed sequence number, and nothing
  // else. The caller records the purge as an event, so the chain continues from the checkpoint.
  await knex.raw(`
    CREATE FUNCTION audit_purge_through(p_seq bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE removed bigint;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE seq = p_seq) THEN
        RAISE EXCEPTION 'audit purge must end at a signed checkpoint (no checkpoint at %)', p_seq;
      END IF;
      PERFORM set_config('custos.audit_purge_through', p_seq::text, true);
      DELETE FROM audit_events WHERE seq <= p_seq;
      GET DIAGNOSTICS removed = ROW_COUNT;
      DELETE FROM audit_chain WHERE seq <= p_seq;
      PERFORM set_config('custos.audit_purge_through', '', true);
      RETURN removed;
    END $$`);
  await knex.raw('REVOKE ALL ON FUNCTION audit_purge_through(bigint) FROM PUBLIC');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS audit_purge_through(bigint)');
  await knex.raw('DROP TABLE IF EXISTS audit_checkpoints, audit_chain, audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_refuse_change()');
}
