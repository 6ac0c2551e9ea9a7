import type { Knex } from 'knex';

// The smart-folder knowledge base (issue 13). One `knowledge_sources` row per file in a folder is
// the indexing job's state (job id = its id, progress in chunks); its FK to the folder membership
// cascades, so taking the file out of the folder, deleting the file or the folder removes its
// chunks in the same statement. Vectors are stored per batch of chunks as one AES-256-GCM
// matrix (`knowledge_segments`, immutable once written) so a search decrypts a folder in a
// few dozen calls; each chunk's text is its own ciphertext (`knowledge_chunks`), decrypted only
// for the results. Everything is under the user's data key, bound to the row (crypto-shredding
// covers it), and keyed by user_id with an FK to users, so the account deletion walk finds it.
export async function up(knex: Knex): Promise<void> {
  if (!(await knex.schema.hasTable('knowledge_sources'))) {
    await knex.schema.createTable('knowledge_sources', (t) => {
      t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.uuid('folder_id').notNullable();
      t.uuid('file_id').notNullable();
      t.text('state').notNullable().defaultTo('queued');
      t.text('model').notNullable();
      t.integer('dimensions');
      // The chunking this source was cut with, so a resumed job cuts the same chunks.
      t.integer('chunk_chars').notNullable();
      t.integer('overlap_chars').notNullable();
      t.integer('chunks_total');
      t.integer('chunks_done').notNullable().defaultTo(0);
      t.integer('attempts').notNullable().defaultTo(0);
      // error class and reason only, never text that could quote the file
      t.text('last_error');
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.timestamp('started_at', { useTz: true });
      t.timestamp('completed_at', { useTz: true });
      t.unique(['folder_id', 'file_id']);
      t.index(['user_id', 'folder_id']);
      t.index(['state']);
      t.index(['file_id']);
      t.foreign(['folder_id', 'file_id']).references(['folder_id', 'file_id']).inTable('smart_folder_members').onDelete('CASCADE');
    });
    await knex.raw(`ALTER TABLE knowledge_sources ADD CONSTRAINT knowledge_sources_state_check CHECK (state IN ('queued', 'embedding', 'ready', 'failed'))`);
    await knex.raw('ALTER TABLE knowledge_sources ADD CONSTRAINT knowledge_sources_progress_check CHECK (chunks_done >= 0 AND (chunks_total IS NULL OR chunks_done <= chunks_total))');
  }
  if (!(await knex.schema.hasTable('knowledge_segments'))) {
    await knex.schema.createTable('knowledge_segments', (t) => {
      t.uuid('id').primary();
      t.uuid('user_id').notNullable().references('id').inTable('users');
      t.uuid('source_id').notNullable().references('id').inTable('knowledge_sources').onDelete('CASCADE');
      t.uuid('folder_id').notNullable();
      t.integer('first_chunk').notNullable();
      t.integer('chunk_count').notNullable();
      t.integer('dimensions').notNullable();
      // How vectors_enc is laid out once decrypted (knowledge-vectors.ts): int8-rowscale-v1 is
      // chunk_count float32 scales, then chunk_count x dimensions int8 (L2-normalised, quantised)
      t.text('encoding').notNullable();
      // AES-256-GCM under the user's data key, bound to this row
      t.binary('vectors_enc').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.unique(['source_id', 'first_chunk']);
      t.index(['user_id', 'folder_id']);
    });
  }
  if (!(await knex.schema.hasTable('knowledge_chunks'))) {
    await knex.schema.createTable('knowledge_chunks', (t) => {
      t.uuid('source_id').notNullable().references('id').inTable('knowledge_sources').onDelete('CASCADE');
      t.integer('chunk_index').notNullable();
      t.uuid('user_id').notNullable().references('id').inTable('users');
      // AES-256-GCM bound to knowledge_chunks|text_enc|<source id>:<chunk index>
      t.binary('text_enc').notNullable();
      t.integer('text_chars').notNullable();
      t.primary(['source_id', 'chunk_index']);
      t.index(['user_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['knowledge_chunks', 'knowledge_segments', 'knowledge_sources']) await knex.schema.dropTableIfExists(table);
}
