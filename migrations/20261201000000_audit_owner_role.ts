import type { Knex } from 'knex';

// The audit trail's protection no longer rests on a setting any session can set (issue 16, item 1).
//
// - audit_refuse_change(): DELETE is let through only when the current role owns the table. After
//   `custos migrate` (src/platform/db-roles.ts), the owner of the audit tables is a NOLOGIN role,
//   so the only way to be that role is to run inside audit_purge_through(), a SECURITY DEFINER
//   function it owns. `custos.audit_purge_through` still bounds which rows the function removes,
//   but on its own it opens nothing.
// - audit_purge_through(seq): enforces the retention period itself, from audit_settings (written by
//   `custos migrate` with the owner connection; the runtime role may only read it), and writes
//   its own `audit.purge` event. The runtime has no way to pass a shorter period.
// - audit_refuse_forged_purge(): an `audit.purge` event can only be inserted by the owner, i.e.
//   by the function, so the verifier can take one as the anchor of a purged range.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS audit_settings (
      id boolean PRIMARY KEY DEFAULT true CHECK (id),
      retention_days integer NOT NULL CHECK (retention_days >= 1),
      recorded_at timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('REVOKE ALL ON audit_settings FROM PUBLIC');

  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      purge_through bigint := coalesce(nullif(current_setting('custos.audit_purge_through', true), '')::bigint, 0);
      is_owner boolean := (SELECT c.relowner = r.oid FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
                           WHERE c.oid = TG_RELID AND r.rolname = current_user);
    BEGIN
      IF TG_OP = 'DELETE' AND TG_ARGV[0] = 'purgeable' AND is_owner IS TRUE AND purge_through > 0 THEN
        IF TG_LEVEL = 'STATEMENT' THEN
          RETURN NULL;
        ELSIF OLD.seq <= purge_through THEN
          RETURN OLD;
        END IF;
      END IF;
      RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
    END $$`);

  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_refuse_forged_purge() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT c.relowner = r.oid FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
          WHERE c.oid = TG_RELID AND r.rolname = current_user) IS TRUE THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'only audit_purge_through() records an audit.purge event (refused for %)', current_user
        USING ERRCODE = 'insufficient_privilege';
    END $$`);
  await knex.raw('DROP TRIGGER IF EXISTS audit_events_purge_event_guard ON audit_events');
  await knex.raw(`CREATE TRIGGER audit_events_purge_event_guard BEFORE INSERT ON audit_events FOR EACH ROW
    WHEN (NEW.action = 'audit.purge') EXECUTE FUNCTION audit_refuse_forged_purge()`);

  // Removes the events and seals through a signed checkpoint, provided the whole range is older
  // than the recorded retention period (judged by the database's clock, from the events' own
  // times, which the runtime role cannot set, and from the checkpoint's signed time, which the
  // verifier checks again later), and records the purge as an event.
  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_purge_through(p_seq bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE
      removed bigint;
      days integer;
      checkpoint public.audit_checkpoints%ROWTYPE;
      newest timestamptz;
      cutoff timestamptz;
    BEGIN
      SELECT retention_days INTO days FROM public.audit_settings;
      IF days IS NULL THEN
        RAISE EXCEPTION 'audit retention is not recorded in this database (run custos migrate)' USING ERRCODE = 'object_not_in_prerequisite_state';
      END IF;
      SELECT * INTO checkpoint FROM public.audit_checkpoints WHERE seq = p_seq;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'audit purge must end at a signed checkpoint (no checkpoint at %)', p_seq USING ERRCODE = 'check_violation';
      END IF;
      cutoff := clock_timestamp() - make_interval(days => days);
      SELECT max(occurred_at) INTO newest FROM public.audit_events WHERE seq <= p_seq;
      IF newest IS NULL THEN
        RAISE EXCEPTION 'nothing to purge through event %: it is already purged', p_seq USING ERRCODE = 'check_violation';
      END IF;
      IF newest > cutoff OR checkpoint.signed_at > cutoff THEN
        RAISE EXCEPTION 'audit purge through event % refused: it is within the % day retention period (newest event %, checkpoint signed %)',
          p_seq, days, newest, checkpoint.signed_at USING ERRCODE = 'check_violation';
      END IF;
      PERFORM set_config('custos.audit_purge_through', p_seq::text, true);
      DELETE FROM public.audit_events WHERE seq <= p_seq;
      GET DIAGNOSTICS removed = ROW_COUNT;
      DELETE FROM public.audit_chain WHERE seq <= p_seq;
      PERFORM set_config('custos.audit_purge_through', '', true);
      INSERT INTO public.audit_events (actor_kind, action, outcome, resource_type, resource_ids, detail)
      VALUES ('system', 'audit.purge', 'allowed', 'audit_range', ARRAY[p_seq::text],
        format('retention %s days: removed %s events through %s; the chain continues from checkpoint #%s', days, removed, p_seq, checkpoint.id));
      RETURN removed;
    END $$`);
  await knex.raw('REVOKE ALL ON FUNCTION audit_purge_through(bigint) FROM PUBLIC');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS audit_events_purge_event_guard ON audit_events');
  await knex.raw('DROP FUNCTION IF EXISTS audit_refuse_forged_purge()');
  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
  await knex.raw(`
    CREATE OR REPLACE FUNCTION audit_purge_through(p_seq bigint) RETURNS bigint
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
  await knex.raw('DROP TABLE IF EXISTS audit_settings');
}
