// The knowledge base's share of a user's data for exports (GDPR Art. 15/20): the text of every
// chunk (decrypted) and the state of each file's index. The vectors are not exported: they are
// numbers derived from that text by the provider's model, and are deleted with it. Deletion of
// the rows is generic (every table has a user_id FK to users).
import type { PersonalDataProvider } from '../../platform/platform.js';
import type { KnowledgeRepo } from './knowledge-repo.js';

export function knowledgePersonalData(repo: Pick<KnowledgeRepo, 'eachChunk' | 'userSources'>): PersonalDataProvider {
  return {
    collections: [
      {
        name: 'knowledge_chunks',
        description: 'The knowledge base of your smart folders: each chunk of your files\' extracted text (decrypted), with its folder, file and position. The embedding vectors computed from them are deleted with them and not exported.',
        async *rows(userId) {
          for await (const c of repo.eachChunk(userId)) yield { folderId: c.folderId, fileId: c.fileId, chunkIndex: c.chunkIndex, text: c.text };
        },
      },
      {
        name: 'knowledge_index',
        description: 'Indexing state of each file in each smart folder: embedding model, chunks done and total, attempts, times.',
        async *rows(userId) {
          for (const s of await repo.userSources(userId)) {
            yield { folderId: s.folderId, fileId: s.fileId, state: s.state, model: s.model, dimensions: s.dimensions, chunksDone: s.chunksDone, chunksTotal: s.chunksTotal,
              attempts: s.attempts, createdAt: s.createdAt.toISOString(), completedAt: s.completedAt?.toISOString() ?? null };
          }
        },
      },
    ],
  };
}
