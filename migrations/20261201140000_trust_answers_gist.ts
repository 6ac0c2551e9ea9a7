import type { Knex } from 'knex';

// Questionnaire matching looks up, per asked question, the nearest library questions by trigram
// distance (pg_trgm's `<->`, KNN). Only a GiST trigram index serves that ordering; the GIN one
// it replaces answered `%` alone, and measured slower than a sequential scan on a 300-entry
// library (4.5 ms per question against 0.4 ms for the GiST KNN scan; bench/results/trust.md).
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS trust_answers_question_gist ON trust_answers USING gist (question gist_trgm_ops)');
  await knex.raw('DROP INDEX IF EXISTS trust_answers_question_trgm');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS trust_answers_question_trgm ON trust_answers USING gin (question gin_trgm_ops)');
  await knex.raw('DROP INDEX IF EXISTS trust_answers_question_gist');
}
