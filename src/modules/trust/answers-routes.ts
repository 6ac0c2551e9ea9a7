// Handlers keyed by operationId for the answer library and questionnaire filling (staff).
import type { RouteTable } from '../../platform/platform.js';
import type { AuditService } from '../audit/audit-service.js';
import type { LibraryAnswer } from './answers-repo.js';
import type { AnswersService, AnswerStatus } from './answers-service.js';
import { fillQuestionnaire } from './questionnaire.js';
import { staffContext } from './trust-routes.js';
import { singleFileUpload } from './trust-upload.js';

const answerView = (a: LibraryAnswer, status: AnswerStatus) => ({
  id: a.id, question: a.question, answer: a.answer, evidence: a.evidence, tags: a.tags, claims: Object.keys(a.citedClaims),
  ownerStaffId: a.ownerStaffId, lastReviewedAt: a.lastReviewedAt.toISOString(), reviewBy: a.reviewBy.toISOString(), updatedAt: a.updatedAt.toISOString(),
  stale: status.stale, staleReasons: status.reasons,
});

export function answersRoutes(answers: AnswersService, audit: Pick<AuditService, 'record'>, uploadLimitBytes: number): RouteTable {
  const upload = singleFileUpload(uploadLimitBytes);
  const date = (v: unknown) => (v ? new Date(String(v)) : undefined);
  return {
    createTrustAnswer: async (req, res) => {
      const b = req.body;
      const a = await answers.create({ question: b.question, answer: b.answer, evidence: b.evidence, tags: b.tags, claims: b.claims, reviewBy: date(b.reviewBy) }, staffContext(req));
      res.status(201).json(answerView(a, await answers.withStatus(a)));
    },
    listTrustAnswers: async (req, res) => {
      let items = await answers.listWithStatus();
      if (req.query.stale !== undefined) items = items.filter((i) => i.status.stale === (String(req.query.stale) === 'true'));
      res.json({ items: items.map((i) => answerView(i.answer, i.status)) });
    },
    updateTrustAnswer: async (req, res) => {
      const b = req.body;
      const a = await answers.update(String(req.params.answerId), { ...b, reviewBy: date(b.reviewBy) }, staffContext(req));
      res.json(answerView(a, await answers.withStatus(a)));
    },
    deleteTrustAnswer: async (req, res) => {
      await answers.remove(String(req.params.answerId), staffContext(req));
      res.status(204).end();
    },
    answerQuestionnaire: async (req, res) => {
      const context = staffContext(req);
      const file = await upload(req, res);
      const result = await fillQuestionnaire(file.originalname, file.buffer, (questions) => answers.match(questions));
      await audit.record({ ...context, action: 'trust.questionnaire.answer', outcome: 'allowed', resourceType: 'questionnaire', resourceIds: [], detail: `${file.originalname}: ${result.answered} answered, ${result.unanswered} flagged` });
      const name = file.originalname.replace(/[^A-Za-z0-9._-]/g, '_');
      res.type(result.mediaType).set({
        'Content-Disposition': `attachment; filename="${name}"`,
        'X-Custos-Answered': String(result.answered),
        'X-Custos-Unanswered': String(result.unanswered),
      }).send(result.bytes);
    },
  };
}
