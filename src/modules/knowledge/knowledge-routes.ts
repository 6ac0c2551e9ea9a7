// Handlers keyed by operationId: a user's search and index status of their own smart folder, and
// the staff support read of a user's knowledge base, which goes through the audit module's
// `audited` wrapper (reason recorded and committed before anything is read; fails closed).
import type { Request } from 'express';
import { requireUser } from '../../platform/http/auth.js';
import { BadRequestError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { Audited } from '../audit/staff-access-routes.js';
import type { KnowledgeService } from './knowledge-service.js';
import type { ChunkRef } from './knowledge-types.js';

type SourceLike = Awaited<ReturnType<KnowledgeService['folderStatus']>>[number];

export const sourceView = (s: SourceLike) => ({
  fileId: s.fileId,
  state: s.state,
  chunksDone: s.chunksDone,
  chunksTotal: s.chunksTotal,
  attempts: s.attempts,
  lastError: s.lastError,
  model: s.model,
  updatedAt: s.updatedAt.toISOString(),
});

const param = (req: Request, name: string) => String(req.params[name]);
const encodeCursor = (ref: ChunkRef) => Buffer.from(`${ref.sourceId}:${ref.chunkIndex}`).toString('base64url');
function decodeCursor(raw: unknown): ChunkRef | undefined {
  if (typeof raw !== 'string' || !raw) return undefined;
  const match = /^([0-9a-f-]{36}):(\d{1,9})$/.exec(Buffer.from(raw, 'base64url').toString('utf8'));
  if (!match) throw new BadRequestError('cursor is not one this API returned.', [{ field: 'query.cursor', message: 'is invalid' }]);
  return { sourceId: match[1], chunkIndex: Number(match[2]) };
}

export function knowledgeRoutes(knowledge: KnowledgeService, audited: Audited): RouteTable {
  return {
    searchSmartFolder: async (req, res) => {
      const { query, limit } = req.body as { query: string; limit?: number };
      res.json(await knowledge.search(requireUser(req).userId, param(req, 'folderId'), { query, limit: limit ?? 5 }));
    },
    getSmartFolderKnowledge: async (req, res) => {
      const files = await knowledge.folderStatus(requireUser(req).userId, param(req, 'folderId'));
      res.json({ ready: files.every((f) => f.state === 'ready'), files: files.map(sourceView) });
    },
    adminGetUserSmartFolderKnowledge: async (req, res) => {
      const limit = Number(req.query.limit ?? 50);
      const after = decodeCursor(req.query.cursor);
      const { sources, chunks } = await audited(req, 'adminGetUserSmartFolderKnowledge', (userId) => knowledge.staffRead(userId, param(req, 'folderId'), { limit, after }));
      const last = chunks.items[chunks.items.length - 1];
      res.json({
        files: sources.map(sourceView),
        chunks: {
          items: chunks.items.map((c) => ({ fileId: c.fileId, chunkIndex: c.chunkIndex, text: c.text })),
          nextCursor: chunks.more && last ? encodeCursor(last) : null,
        },
      });
    },
  };
}
