import type { Knex } from 'knex';

// The chat domain's user data. Every table is keyed directly by user_id (FK to users, indexed),
// so the privacy module can find all of them from the FK graph and delete by user_id in batches,
// deepest tables first. The user_id FKs deliberately do NOT cascade: deleting a users row must
// fail until the deletion job has removed the rows (and the file bytes outside PostgreSQL) itself,
// instead of one statement silently dropping 100k messages and orphaning stored files.
// Cascades exist only inside the domain, where the user asked for the deletion (a deleted chat
// takes its messages and folder memberships with it).
//
// Columns ending in _enc are AES-256-GCM under the user's data key (platform fieldCipher), with
// associated data <table>|<column>|<row id>. `seq` is an identity used for keyset pagination:
// it orders rows by insertion without the microsecond pitfalls of timestamps in JavaScript.
export async function up(knex: Knex): Promise<void> {
  const userId = (t: Knex.CreateTableBuilder) => {
    t.uuid('user_id').notNullable().references('id').inTable('users');
    // (user_id, seq) serves the FK lookups by user_id and the keyset pagination of exports.
    t.index(['user_id', 'seq']);
  };
  const timestamps = (t: Knex.CreateTableBuilder) => {
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  };
  const seq = (t: Knex.CreateTableBuilder) => t.specificType('seq', 'bigint GENERATED ALWAYS AS IDENTITY').notNullable().unique();

  await knex.schema.createTable('chats', (t) => {
    t.uuid('id').primary();
    userId(t);
    seq(t);
    t.binary('title_enc').notNullable();
    timestamps(t);
  });

  await knex.schema.createTable('messages', (t) => {
    t.uuid('id').primary();
    t.uuid('chat_id').notNullable().references('id').inTable('chats').onDelete('CASCADE');
    userId(t);
    seq(t);
    t.text('role').notNullable();
    t.binary('content_enc').notNullable();
    t.text('model');
    t.integer('prompt_tokens');
    t.integer('completion_tokens');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['chat_id', 'seq']);
  });
  await knex.raw(`ALTER TABLE messages ADD CONSTRAINT messages_role_check CHECK (role IN ('user', 'assistant'))`);

  await knex.schema.createTable('files', (t) => {
    t.uuid('id').primary();
    userId(t);
    seq(t);
    t.binary('name_enc').notNullable();
    t.text('kind').notNullable();
    t.text('media_type').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.binary('text_enc').notNullable();
    t.integer('text_chars').notNullable();
    // Key of the encrypted original in the artifact storage: files/<user id>/<file id>.
    t.text('storage_key').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE files ADD CONSTRAINT files_kind_check CHECK (kind IN ('pdf', 'docx', 'xlsx', 'csv', 'txt', 'markdown'))`);

  await knex.schema.createTable('smart_folders', (t) => {
    t.uuid('id').primary();
    userId(t);
    seq(t);
    t.binary('name_enc').notNullable();
    timestamps(t);
  });

  await knex.schema.createTable('smart_folder_members', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('folder_id').notNullable().references('id').inTable('smart_folders').onDelete('CASCADE');
    userId(t);
    seq(t);
    t.uuid('chat_id').references('id').inTable('chats').onDelete('CASCADE');
    t.uuid('file_id').references('id').inTable('files').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['folder_id', 'chat_id']);
    t.unique(['folder_id', 'file_id']);
    t.index(['chat_id']);
    t.index(['file_id']);
  });
  await knex.raw('ALTER TABLE smart_folder_members ADD CONSTRAINT smart_folder_members_one_target CHECK (num_nonnulls(chat_id, file_id) = 1)');

  await knex.schema.createTable('assistants', (t) => {
    t.uuid('id').primary();
    userId(t);
    seq(t);
    t.binary('name_enc').notNullable();
    t.binary('instructions_enc').notNullable();
    t.text('default_model').notNullable();
    timestamps(t);
  });

  await knex.schema.createTable('transactions', (t) => {
    t.uuid('id').primary();
    userId(t);
    seq(t);
    t.text('kind').notNullable();
    // Signed: purchases and refunds credit (> 0), usage debits (< 0).
    t.bigInteger('amount_cents').notNullable();
    t.string('currency', 3).notNullable();
    t.binary('description_enc').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE transactions ADD CONSTRAINT transactions_kind_check CHECK (kind IN ('purchase', 'usage', 'refund'))`);
  await knex.raw(`ALTER TABLE transactions ADD CONSTRAINT transactions_currency_check CHECK (currency ~ '^[A-Z]{3}$')`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['transactions', 'assistants', 'smart_folder_members', 'smart_folders', 'files', 'messages', 'chats']) {
    await knex.schema.dropTableIfExists(table);
  }
}
