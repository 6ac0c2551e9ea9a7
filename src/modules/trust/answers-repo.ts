// SQL of the answer library and its matching (PostgreSQL full-text search + pg_trgm).
import type { Knex } from '../../platform/db.js';

export interface LibraryAnswer {
  id: string;
  question: string;
  answer: string;
  evidence: string | null;
  tags: string[];
  /** Posture claim id -> its value (JSON text) when the answer was last reviewed. */
  citedClaims: Record<string, string>;
  ownerStaffId: string;
  lastReviewedAt: Date;
  reviewBy: Date;
  updatedAt: Date;
}

/** asked ⊂ library: every word of the asked question is in the library question; library ⊂ asked: the reverse. */
export interface MatchCandidate { index: number; answerId: string | null; similarity: number; askedWordsInLibrary: boolean; libraryWordsInAsked: boolean }

/**
 * The floor below which a library question is no candidate at all: pg_trgm's default
 * `similarity_threshold`, written here so a session setting cannot change the answers.
 */
export const CANDIDATE_SIMILARITY = 0.3;
/** Nearest library questions read per asked question; more than one so equal similarities tie-break by id. */
const NEAREST = 3;

const fromRow = (r: Record<string, any>): LibraryAnswer => ({
  id: r.id, question: r.question, answer: r.answer, evidence: r.evidence, tags: r.tags, citedClaims: r.cited_claims,
  ownerStaffId: r.owner_staff_id, lastReviewedAt: r.last_reviewed_at, reviewBy: r.review_by, updatedAt: r.updated_at,
});

export function createAnswersRepo(db: Knex) {
  return {
    async insert(a: Omit<LibraryAnswer, 'lastReviewedAt' | 'updatedAt'>): Promise<LibraryAnswer> {
      const [row] = await db('trust_answers').insert({
        id: a.id, question: a.question, answer: a.answer, evidence: a.evidence, tags: a.tags, cited_claims: JSON.stringify(a.citedClaims),
        owner_staff_id: a.ownerStaffId, review_by: a.reviewBy,
      }).returning('*');
      return fromRow(row);
    },
    async find(id: string): Promise<LibraryAnswer | null> {
      const row = await db('trust_answers').where({ id }).first();
      return row ? fromRow(row) : null;
    },
    async list(): Promise<LibraryAnswer[]> {
      return (await db('trust_answers').orderBy('question')).map(fromRow);
    },
    async findMany(ids: string[]): Promise<LibraryAnswer[]> {
      return ids.length ? (await db('trust_answers').whereIn('id', ids)).map(fromRow) : [];
    },
    async update(id: string, changes: Partial<Pick<LibraryAnswer, 'question' | 'answer' | 'evidence' | 'tags' | 'citedClaims' | 'reviewBy'>> & { reviewed?: boolean }): Promise<LibraryAnswer | null> {
      const set: Record<string, unknown> = { updated_at: db.fn.now() };
      if (changes.question !== undefined) set.question = changes.question;
      if (changes.answer !== undefined) set.answer = changes.answer;
      if (changes.evidence !== undefined) set.evidence = changes.evidence;
      if (changes.tags !== undefined) set.tags = changes.tags;
      if (changes.citedClaims !== undefined) set.cited_claims = JSON.stringify(changes.citedClaims);
      if (changes.reviewBy !== undefined) set.review_by = changes.reviewBy;
      if (changes.reviewed) set.last_reviewed_at = db.fn.now();
      const [row] = await db('trust_answers').where({ id }).update(set).returning('*');
      return row ? fromRow(row) : null;
    },
    async remove(id: string): Promise<boolean> {
      return (await db('trust_answers').where({ id }).delete()) > 0;
    },

    /**
     * The best library question for each asked question, in one statement: a KNN scan of the
     * GiST trigram index (`<->` is 1 − similarity) takes the few nearest library questions, the
     * most similar one at or above CANDIDATE_SIMILARITY wins (ties by id), and full-text search
     * then says whether their words match either way. The caller decides what is close enough.
     * The earlier form (`WHERE question % q ORDER BY similarity`) computed similarity() for every
     * library row per question whenever the planner chose a sequential scan, which it did on a
     * 300-row library: 300 × 300 pairs, 1.5–2.5 s (bench/results/trust.md).
     */
    async bestMatches(questions: string[]): Promise<MatchCandidate[]> {
      if (!questions.length) return [];
      const { rows } = await db.raw(`
        SELECT q.idx::int AS index, m.id AS answer_id, coalesce(m.sim, 0) AS similarity,
               coalesce(m.search @@ plainto_tsquery('english', q.text), false) AS asked_in_library,
               coalesce(to_tsvector('english', q.text) @@ plainto_tsquery('english', m.question), false) AS library_in_asked
        FROM unnest(?::text[]) WITH ORDINALITY AS q(text, idx)
        LEFT JOIN LATERAL (
          SELECT k.id, k.question, k.search, k.sim FROM (
            SELECT a.id, a.question, a.search, similarity(a.question, q.text) AS sim
            FROM trust_answers a
            ORDER BY a.question <-> q.text
            LIMIT ?
          ) k
          WHERE k.sim >= ?
          ORDER BY k.sim DESC, k.id
          LIMIT 1
        ) m ON true
        ORDER BY q.idx`, [questions, NEAREST, CANDIDATE_SIMILARITY]);
      return rows.map((r: Record<string, any>) => ({ index: r.index - 1, answerId: r.answer_id, similarity: Number(r.similarity), askedWordsInLibrary: r.asked_in_library, libraryWordsInAsked: r.library_in_asked }));
    },
  };
}

export type AnswersRepo = ReturnType<typeof createAnswersRepo>;
