import type { Knex } from 'knex';

// The questionnaire answer library, matched by full-text search and trigram similarity. The
// extension is created here, by the owner connection that runs migrations: the runtime role is
// not a superuser and must never need to create one. An answer that cites posture claims keeps
// the values they had when it was last reviewed; it is stale once a value differs.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  if (await knex.schema.hasTable('trust_answers')) return;
  await knex.schema.createTable('trust_answers', (t) => {
    t.uuid('id').primary();
    t.text('question').notNullable();
    t.text('answer').notNullable();
    t.text('evidence');
    t.specificType('tags', 'text[]').notNullable().defaultTo('{}');
    t.jsonb('cited_claims').notNullable().defaultTo('{}');
    t.uuid('owner_staff_id').notNullable();
    t.timestamp('last_reviewed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('review_by', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE trust_answers ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', question)) STORED`);
  await knex.raw('CREATE INDEX trust_answers_search ON trust_answers USING gin (search)');
  await knex.raw('CREATE INDEX trust_answers_question_trgm ON trust_answers USING gin (question gin_trgm_ops)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('trust_answers');
}
