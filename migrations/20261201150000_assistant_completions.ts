import type { Knex } from 'knex';

// Chats that talk to a model (issue 13).
// - provider_tokens: a user's own API token per provider (BYOK). token_enc is AES-256-GCM under
//   the user's data key with associated data binding it to this table, column and row
//   (<user id>/<provider>), so a ciphertext copied to another row or user does not open. Nothing
//   else of the token is stored (not even its last four: those are read by decrypting).
// - completions: the metadata of each AI reply stored in a chat (model, token counts, cost,
//   whether the stream was cut short, which key served it, knowledge-base citations: ids and
//   scores only). The reply's text is the messages row it points at (content_enc).
// Like the chat tables, the user_id keys do not cascade: the deletion job finds them from the FK
// graph. Within the domain a completion goes with its message or chat.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('provider_tokens'))) {
    await knex.schema.createTable('provider_tokens', (t) => {
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.text('provider').notNullable();
      t.binary('token_enc').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.primary(['user_id', 'provider']);
    });
    await knex.raw(`ALTER TABLE provider_tokens ADD CONSTRAINT provider_tokens_provider_check CHECK (provider IN ('openai', 'anthropic', 'xai', 'google'))`);
  }
  if (!(await knex.schema.hasTable('completions'))) {
    await knex.schema.createTable('completions', (t) => {
      t.uuid('id').primary();
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.uuid('chat_id').notNullable().references('id').inTable('chats').onDelete('CASCADE');
      t.uuid('message_id').notNullable().unique().references('id').inTable('messages').onDelete('CASCADE');
      t.specificType('seq', 'bigint GENERATED ALWAYS AS IDENTITY').notNullable().unique();
      t.text('model').notNullable();
      t.text('provider').notNullable();
      t.uuid('assistant_id');
      t.text('status').notNullable();
      t.text('token_source').notNullable();
      t.integer('input_tokens').notNullable();
      t.integer('output_tokens').notNullable();
      t.integer('cached_tokens').notNullable();
      t.bigInteger('cost_microcents').notNullable();
      t.jsonb('citations').notNullable().defaultTo('[]');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.index(['user_id', 'seq']);
      t.index(['chat_id']);
    });
    await knex.raw(`ALTER TABLE completions ADD CONSTRAINT completions_vocabulary_check CHECK (
      provider IN ('openai', 'anthropic', 'xai', 'google') AND status IN ('complete', 'incomplete') AND token_source IN ('platform', 'user'))`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('completions');
  await knex.schema.dropTableIfExists('provider_tokens');
}
