// The questionnaire answer library: owned, reviewed, due for review again, and stale when a
// posture claim it cites has changed since its last review (its answer may no longer be true).
// Matching a questionnaire's questions to it is conservative: below the similarity threshold a
// question stays unanswered and flagged, because a wrong answer is worse than none.
import { randomUUID } from 'node:crypto';
import { BadRequestError, NotFoundError } from '../../platform/http/problem.js';
import type { AuditService } from '../audit/audit-service.js';
import type { AnswersRepo, LibraryAnswer } from './answers-repo.js';
import type { Posture } from './posture.js';
import type { AuditContext } from './vulnerability-service.js';

/**
 * When a library answer is used. Trigram similarity alone is not enough: "encrypted at rest" and
 * "encrypted in transit" are close in characters and opposite in meaning. So a match needs the
 * same words both ways (full-text), or one side's words contained in the other's plus a similar
 * question, or a near-identical question.
 */
export const MATCH_SIMILARITY = 0.5;
export const NEAR_IDENTICAL_SIMILARITY = 0.85;
const isClose = (c: { similarity: number; askedWordsInLibrary: boolean; libraryWordsInAsked: boolean }) =>
  c.similarity >= NEAR_IDENTICAL_SIMILARITY
  || (c.askedWordsInLibrary && c.libraryWordsInAsked)
  || ((c.askedWordsInLibrary || c.libraryWordsInAsked) && c.similarity >= MATCH_SIMILARITY);
const DEFAULT_REVIEW_DAYS = 365;

type Deps = {
  repo: AnswersRepo;
  audit: Pick<AuditService, 'record'>;
  posture: () => Promise<{ posture: Posture }>;
};

type StaffContext = AuditContext & { actor: { kind: 'staff'; staffId: string } };

export interface AnswerStatus { stale: boolean; reasons: string[] }

export function createAnswersService({ repo, audit, posture }: Deps) {
  const claimValues = async () => new Map((await posture()).posture.claims.map((c) => [c.id, JSON.stringify(c.value)]));
  const snapshot = async (claimIds: string[]) => {
    const values = await claimValues();
    const unknown = claimIds.filter((id) => !values.has(id));
    if (unknown.length) throw new BadRequestError(`Unknown posture claims: ${unknown.join(', ')} (see GET /api/v1/trust/posture).`, [{ field: 'body.claims', message: 'must name posture claim ids' }]);
    return Object.fromEntries(claimIds.map((id) => [id, values.get(id)!]));
  };
  const statusWith = (values: Map<string, string>, a: LibraryAnswer, now = new Date()): AnswerStatus => {
    const reasons: string[] = [];
    for (const [id, value] of Object.entries(a.citedClaims)) {
      if (values.get(id) !== value) reasons.push(`posture claim ${id} changed since the last review (was ${value}, now ${values.get(id) ?? 'absent'})`);
    }
    if (a.reviewBy < now) reasons.push(`review was due ${a.reviewBy.toISOString()}`);
    return { stale: reasons.length > 0, reasons };
  };
  const record = (context: StaffContext, action: string, id: string, detail?: string) =>
    audit.record({ ...context, action, outcome: 'allowed', resourceType: 'trust_answer', resourceIds: [id], detail: detail ?? null });

  return {
    async create(input: { question: string; answer: string; evidence?: string; tags?: string[]; claims?: string[]; reviewBy?: Date }, context: StaffContext) {
      const id = randomUUID();
      const citedClaims = await snapshot(input.claims ?? []);
      await record(context, 'trust.answer.create', id);
      return repo.insert({
        id, question: input.question, answer: input.answer, evidence: input.evidence ?? null, tags: input.tags ?? [], citedClaims,
        ownerStaffId: context.actor.staffId, reviewBy: input.reviewBy ?? new Date(Date.now() + DEFAULT_REVIEW_DAYS * 86_400_000),
      });
    },

    /** Edits and/or marks reviewed: a review re-reads the cited claims' current values. */
    async update(id: string, input: { question?: string; answer?: string; evidence?: string; tags?: string[]; claims?: string[]; reviewBy?: Date; reviewed?: boolean }, context: StaffContext) {
      const existing = await repo.find(id);
      if (!existing) throw new NotFoundError('No such answer.');
      const claimIds = input.claims ?? Object.keys(existing.citedClaims);
      const citedClaims = input.reviewed || input.claims ? await snapshot(claimIds) : undefined;
      const reviewBy = input.reviewBy ?? (input.reviewed ? new Date(Date.now() + DEFAULT_REVIEW_DAYS * 86_400_000) : undefined);
      await record(context, input.reviewed ? 'trust.answer.review' : 'trust.answer.update', id);
      return (await repo.update(id, { ...input, citedClaims, reviewBy }))!;
    },

    async remove(id: string, context: StaffContext) {
      if (!(await repo.find(id))) throw new NotFoundError('No such answer.');
      await record(context, 'trust.answer.delete', id);
      await repo.remove(id);
    },

    async listWithStatus() {
      const [answers, values] = await Promise.all([repo.list(), claimValues()]);
      return answers.map((a) => ({ answer: a, status: statusWith(values, a) }));
    },

    async withStatus(a: LibraryAnswer) {
      return statusWith(await claimValues(), a);
    },

    /** For each question: the library answer to use, or why there is none. */
    async match(questions: string[]): Promise<Array<{ answer: LibraryAnswer | null; flag: string | null; similarity: number }>> {
      const candidates = await repo.bestMatches(questions.map((q) => q.trim()));
      const answers = new Map((await repo.findMany([...new Set(candidates.flatMap((c) => (c.answerId ? [c.answerId] : [])))])).map((a) => [a.id, a]));
      const values = await claimValues();
      return candidates.map((c, i) => {
        if (!questions[i].trim()) return { answer: null, flag: null, similarity: 0 };
        const close = isClose(c);
        const answer = c.answerId ? answers.get(c.answerId) ?? null : null;
        if (!answer || !close) return { answer: null, flag: 'No matching answer in the library: answer by hand.', similarity: c.similarity };
        const status = statusWith(values, answer);
        if (status.stale) return { answer: null, flag: `The library answer needs review first: ${status.reasons.join('; ')}.`, similarity: c.similarity };
        return { answer, flag: null, similarity: c.similarity };
      });
    },
  };
}

export type AnswersService = ReturnType<typeof createAnswersService>;
