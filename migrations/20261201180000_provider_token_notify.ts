import type { Knex } from 'knex';

// A user's own provider token (BYOK) is cached in each process for the relay's hot path
// (src/modules/assistant/provider-tokens.ts). Every change to provider_tokens is announced on
// `custos_provider_token_changed` with the owner's id ('*' after a TRUNCATE), on commit, so a
// token deleted or replaced through any replica (or by account deletion's cascade) stops being
// used everywhere within a notification's delivery instead of a cache lifetime.
const notifyFunction = `
  CREATE OR REPLACE FUNCTION custos_provider_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
      PERFORM pg_notify('custos_provider_token_changed', '*');
    ELSE
      PERFORM pg_notify('custos_provider_token_changed', coalesce(NEW.user_id, OLD.user_id)::text);
    END IF;
    RETURN NULL;
  END $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(notifyFunction);
  await knex.raw('DROP TRIGGER IF EXISTS provider_tokens_changed ON provider_tokens');
  await knex.raw('CREATE TRIGGER provider_tokens_changed AFTER INSERT OR UPDATE OR DELETE ON provider_tokens FOR EACH ROW EXECUTE FUNCTION custos_provider_token_changed()');
  await knex.raw('DROP TRIGGER IF EXISTS provider_tokens_truncated ON provider_tokens');
  await knex.raw('CREATE TRIGGER provider_tokens_truncated AFTER TRUNCATE ON provider_tokens FOR EACH STATEMENT EXECUTE FUNCTION custos_provider_token_changed()');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS provider_tokens_changed ON provider_tokens');
  await knex.raw('DROP TRIGGER IF EXISTS provider_tokens_truncated ON provider_tokens');
  await knex.raw('DROP FUNCTION IF EXISTS custos_provider_token_changed()');
}
