// The knowledge base of smart folders: indexing (chunk a file's extracted text, embed it through
// the relay's provider layer, store it encrypted) as a durable, resumable job, and search (embed
// the query, score every stored chunk of the folder by cosine similarity, return the best).
//
// Layout, chosen for search latency (bench/assistant/): vectors are stored L2-normalised and
// int8-quantised (knowledge-vectors.ts), one AES-256-GCM matrix per stored batch of a file
// ("segment"), so a folder of 5,000 chunks is ~80 decryptions of 7.7 MB in all and one tight
// dot-product loop; chunk texts are separate ciphertexts decrypted only for the top results. Segments never change once written, so their ciphertext
// can be cached in process by id (knowledge-cache.ts) without ever being stale.
import { HttpProblem, NotFoundError, ServiceUnavailableError } from '../../platform/http/problem.js';
import type { Logger } from '../../platform/logger.js';
import type { Queues } from '../../platform/queues.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import { EmbeddingError, type Embedder } from '../relay/relay-embeddings.js';
import type { CiphertextCache } from './knowledge-cache.js';
import { chunkText } from './knowledge-chunking.js';
import type { KnowledgeRepo } from './knowledge-repo.js';
import type { ChunkRef, KnowledgeSource, SearchHit } from './knowledge-types.js';
import { matrixView, normalise, packMatrix, scoreRows, scoringQuery, TopK } from './knowledge-vectors.js';

export const INDEX_QUEUE = 'knowledge-index';
export const MAX_ATTEMPTS = 5;
const LIVE_JOB_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'];

export interface KnowledgeSettings {
  embeddingModel: string;
  chunkChars: number;
  overlapChars: number;
  embeddingBatch: number;
  retryDelayMs: number;
}

type Deps = {
  repo: KnowledgeRepo;
  chat: Pick<ChatModuleService, 'getSmartFolder' | 'getFileText' | 'folderFileMembers'>;
  embedder: Pick<Embedder, 'embedTexts'>;
  queues: Pick<Queues, 'enqueue' | 'queue'>;
  cache: CiphertextCache;
  /** Read at each use (tests and operators may change them on a running process). */
  settings: KnowledgeSettings;
  logger: Pick<Logger, 'warn' | 'info'>;
};

/** Error class and fixed reason only: a message could quote the file (DESIGN.md, no content in rows or logs). */
const describeFailure = (error: unknown) => {
  if (error instanceof EmbeddingError) return `EmbeddingError (${error.reason}${error.upstreamStatus ? ` ${error.upstreamStatus}` : ''})`;
  const e = error as { name?: string; code?: string };
  return `${e?.name ?? 'Error'}${e?.code ? ` (${String(e.code).slice(0, 32)})` : ''}`.slice(0, 200);
};

/** A failed query embedding, as a problem that says what happened and never echoes the query. */
function searchProblem(error: EmbeddingError): HttpProblem {
  switch (error.reason) {
    case 'unknown_model':
    case 'not_configured':
      return new ServiceUnavailableError('Smart-folder search is not available: the operator has not configured the embeddings provider (CUSTOS_KNOWLEDGE_EMBEDDING_MODEL and its provider key).', 30);
    case 'upstream_rate_limited':
      return new ServiceUnavailableError('The embeddings provider is rate-limiting; retry shortly.', 2);
    case 'upstream_timeout':
      return new HttpProblem(504, 'upstream-timeout', 'Upstream timeout', 'The embeddings provider did not answer in time; retry shortly.');
    default:
      return new HttpProblem(502, 'upstream-error', 'Upstream error', `The embeddings provider failed${error.upstreamStatus ? ` (status ${error.upstreamStatus})` : ''}; its message is not relayed. Retry shortly.`);
  }
}

export function createKnowledgeService({ repo, chat, embedder, queues, cache, settings, logger }: Deps) {
  const sourceSettings = () => ({ model: settings.embeddingModel, chunkChars: settings.chunkChars, overlapChars: settings.overlapChars });

  /** Job id = source id; a finished or failed job of that id is replaced, a live one left alone. */
  async function enqueue(sourceId: string): Promise<void> {
    const job = await queues.queue(INDEX_QUEUE).getJob(sourceId);
    if (job) {
      if (LIVE_JOB_STATES.includes(await job.getState())) return;
      await job.remove().catch(() => {});
    }
    await queues.enqueue(INDEX_QUEUE, sourceId, { sourceId }, { attempts: MAX_ATTEMPTS, backoff: { type: 'exponential', delay: settings.retryDelayMs } });
  }

  async function fileAdded(event: { userId: string; folderId: string; fileId: string }): Promise<void> {
    const ensured = await repo.ensureSource(event.userId, event.folderId, event.fileId, sourceSettings());
    if (!ensured || ensured.source.state === 'ready') return;
    await enqueue(ensured.source.id).catch((error: Error) =>
      logger.warn({ sourceId: ensured.source.id, err: { name: error.name } }, 'knowledge: enqueue failed; the reconciler will retry'));
  }

  async function search(userId: string, folderId: string, input: { query: string; limit: number }): Promise<{ items: SearchHit[] }> {
    // Ownership (another user's folder: 404) and the listing, which is scoped by user id too, at once.
    const [, segments] = await Promise.all([chat.getSmartFolder(userId, folderId), repo.folderSegments(userId, folderId)]);
    if (!segments.length) return { items: [] };
    // The provider call and the loading of the folder's ciphertext overlap.
    const embedding = embedder.embedTexts(userId, settings.embeddingModel, [input.query]).catch((error: unknown) => {
      throw error instanceof EmbeddingError ? searchProblem(error) : error;
    });
    const ciphertexts = new Map<string, Buffer>();
    for (const s of segments) {
      const hit = cache.get(s.id);
      if (hit) ciphertexts.set(s.id, hit);
    }
    const fetched = await repo.segmentCiphertexts(userId, segments.filter((s) => !ciphertexts.has(s.id)).map((s) => s.id));
    for (const [id, ciphertext] of fetched) {
      ciphertexts.set(id, ciphertext);
      cache.set(id, ciphertext);
    }
    const unitQuery = normalise((await embedding).vectors[0]);
    const query = scoringQuery(unitQuery);

    const top = new TopK<ChunkRef & { fileId: string }>(input.limit);
    for (const segment of segments) {
      if (segment.dimensions !== unitQuery.length) continue; // indexed with another model: not comparable
      const ciphertext = ciphertexts.get(segment.id);
      if (!ciphertext) continue; // removed since the listing
      const matrix = matrixView(await repo.openSegment(segment.id, ciphertext), segment.chunkCount, segment.dimensions);
      scoreRows(matrix, segment.chunkCount, query, (row, score) =>
        top.offer(score, () => ({ sourceId: segment.sourceId, fileId: segment.fileId, chunkIndex: segment.firstChunk + row })));
    }
    const texts = await repo.chunkTexts(userId, top.items.map((t) => t.ref));
    const items = top.items.flatMap(({ score, ref }) => {
      const text = texts.get(`${ref.sourceId}:${ref.chunkIndex}`);
      return text === undefined ? [] : [{ fileId: ref.fileId, chunkIndex: ref.chunkIndex, text, score }];
    });
    return { items };
  }

  /** The folder's files and where their indexing stands ('pending': not picked up yet). */
  async function folderStatus(userId: string, folderId: string) {
    const folder = await chat.getSmartFolder(userId, folderId);
    const sources = new Map((await repo.folderSources(userId, folderId)).map((s) => [s.fileId, s]));
    return folder.fileIds.map((fileId) => sources.get(fileId) ?? ({ fileId, state: 'pending' as const, chunksDone: 0, chunksTotal: null, attempts: 0, lastError: null, updatedAt: folder.updatedAt, model: settings.embeddingModel }));
  }

  /**
   * Job: index one file of one folder, from its last stored chunk. Each batch is embedded, then
   * stored with the progress in one transaction (compare-and-set on the progress), so a crash or
   * a retry repeats at most one provider call and never stores a chunk twice.
   */
  async function runIndex(sourceId: string): Promise<void> {
    const source = await repo.claim(sourceId);
    if (!source) return; // removed with its file or folder membership, or finished
    try {
      let text: string;
      try {
        text = await chat.getFileText(source.userId, source.fileId);
      } catch (error) {
        if (error instanceof NotFoundError) return; // the file went; its source went with it (FK cascade)
        throw error;
      }
      const chunks = chunkText(text, { maxChars: source.chunkChars, overlapChars: source.overlapChars });
      await repo.setTotal(source.id, chunks.length);
      const batch = settings.embeddingBatch;
      for (let start = source.chunksDone; start < chunks.length; start += batch) {
        const texts = chunks.slice(start, start + batch);
        const { vectors, dimensions } = await embedder.embedTexts(source.userId, source.model, texts);
        if (!(await repo.storeBatch(source, start, texts, packMatrix(vectors.map(normalise), dimensions), dimensions))) {
          logger.info({ sourceId }, 'knowledge: batch not stored (source removed, or another worker stored it); stopping');
          return;
        }
      }
      await repo.markReady(source.id);
    } catch (error) {
      const final = source.attempts >= MAX_ATTEMPTS;
      await repo.recordFailure(source.id, describeFailure(error), final);
      logger.warn({ sourceId, attempts: source.attempts, final, err: { name: (error as Error)?.name } }, 'knowledge: indexing attempt failed');
      if (!final) throw error;
    }
  }

  return {
    search,
    folderStatus,
    fileAdded,
    runIndex,
    enqueue,

    /** Re-enqueues every unfinished source without a live job (Redis lost it, or the enqueue failed). */
    async reconcile(): Promise<number> {
      let requeued = 0;
      for (const source of await repo.unfinished()) {
        const job = await queues.queue(INDEX_QUEUE).getJob(source.id);
        if (job && LIVE_JOB_STATES.includes(await job.getState())) continue;
        await enqueue(source.id);
        requeued += 1;
      }
      return requeued;
    },

    /** Sources for files already in folders (before this feature, or a lost listener call); returns how many were created. */
    async backfill(batchSize = 500): Promise<number> {
      let created = 0;
      for (let after = 0; ;) {
        const members = await chat.folderFileMembers(after, batchSize);
        if (!members.length) return created;
        after = members[members.length - 1].seq;
        const existing = await repo.existingSources(members);
        const ids = await repo.insertMissing(members.filter((m) => !existing.has(`${m.folderId}/${m.fileId}`)), sourceSettings());
        for (const id of ids) await enqueue(id);
        created += ids.length;
      }
    },

    summary: () => repo.summary(),

    /** Staff support read (through the audited path only): the folder's index and a page of its chunks. */
    async staffRead(userId: string, folderId: string, page: { limit: number; after?: ChunkRef }) {
      await chat.getSmartFolder(userId, folderId);
      const [sources, chunks] = await Promise.all([repo.folderSources(userId, folderId), repo.folderChunks(userId, folderId, page)]);
      return { sources, chunks };
    },
  };
}

export type KnowledgeService = ReturnType<typeof createKnowledgeService>;
export type { KnowledgeSource };
