// SQL of the knowledge base: sources (the indexing jobs' state), segments (encrypted vector
// matrices) and chunks (encrypted texts). Every query is scoped by user_id where a user asks;
// encrypted columns are sealed and opened here, bound to their table, column and row.
import { randomUUID } from 'node:crypto';
import type { Knex } from '../../platform/db.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { ChunkRef, KnowledgeSource, SegmentRef, SourceState, StoredChunk } from './knowledge-types.js';
import { VECTOR_ENCODING } from './knowledge-vectors.js';

interface SourceRow {
  id: string; user_id: string; folder_id: string; file_id: string; state: SourceState; model: string; dimensions: number | null;
  chunk_chars: number; overlap_chars: number; chunks_total: number | null; chunks_done: number; attempts: number; last_error: string | null;
  created_at: Date; updated_at: Date; started_at: Date | null; completed_at: Date | null;
}

const segmentAt = (id: string) => ({ table: 'knowledge_segments', column: 'vectors_enc', rowId: id });
const chunkAt = (sourceId: string, index: number) => ({ table: 'knowledge_chunks', column: 'text_enc', rowId: `${sourceId}:${index}` });

const toSource = (r: SourceRow): KnowledgeSource => ({
  id: r.id, userId: r.user_id, folderId: r.folder_id, fileId: r.file_id, state: r.state, model: r.model, dimensions: r.dimensions,
  chunkChars: r.chunk_chars, overlapChars: r.overlap_chars, chunksTotal: r.chunks_total, chunksDone: r.chunks_done, attempts: r.attempts,
  lastError: r.last_error, createdAt: r.created_at, updatedAt: r.updated_at, startedAt: r.started_at, completedAt: r.completed_at,
});

export interface SourceSettings {
  model: string;
  chunkChars: number;
  overlapChars: number;
}

/** 23503: the folder membership is gone (removed meanwhile), so there is nothing to index. */
const isMissingMember = (error: unknown) => (error as { code?: string })?.code === '23503';

export function createKnowledgeRepo(db: Knex, cipher: Pick<FieldCipher, 'encryptBytes' | 'decryptBytes' | 'encryptText' | 'decryptText'>) {
  return {
    /**
     * The source of a file in a folder, created queued if new; a failed one is queued again
     * (adding the file again is how a user retries). Undefined when the membership is gone.
     */
    async ensureSource(userId: string, folderId: string, fileId: string, settings: SourceSettings): Promise<{ source: KnowledgeSource; queued: boolean } | undefined> {
      try {
        const { rows } = await db.raw(`
          INSERT INTO knowledge_sources (user_id, folder_id, file_id, model, chunk_chars, overlap_chars)
          VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (folder_id, file_id) DO UPDATE SET state = 'queued', attempts = 0, last_error = NULL, updated_at = now()
            WHERE knowledge_sources.state = 'failed' AND knowledge_sources.user_id = EXCLUDED.user_id
          RETURNING *`, [userId, folderId, fileId, settings.model, settings.chunkChars, settings.overlapChars]);
        if (rows[0]) return { source: toSource(rows[0]), queued: true };
        const existing = await db('knowledge_sources').where({ folder_id: folderId, file_id: fileId, user_id: userId }).first();
        return existing ? { source: toSource(existing), queued: false } : undefined;
      } catch (error) {
        if (isMissingMember(error)) return undefined;
        throw error;
      }
    },

    /** Backfill: sources for memberships that have none yet; returns the ids created. */
    async insertMissing(members: Array<{ userId: string; folderId: string; fileId: string }>, settings: SourceSettings): Promise<string[]> {
      if (!members.length) return [];
      const insert = async (batch: typeof members) => {
        const { rows } = await db.raw(`
          INSERT INTO knowledge_sources (user_id, folder_id, file_id, model, chunk_chars, overlap_chars)
          SELECT m.user_id, m.folder_id, m.file_id, ?, ?, ? FROM unnest(?::uuid[], ?::uuid[], ?::uuid[]) AS m(user_id, folder_id, file_id)
          ON CONFLICT (folder_id, file_id) DO NOTHING RETURNING id`,
        [settings.model, settings.chunkChars, settings.overlapChars, batch.map((m) => m.userId), batch.map((m) => m.folderId), batch.map((m) => m.fileId)]);
        return rows.map((r: { id: string }) => r.id);
      };
      try {
        return await insert(members);
      } catch (error) {
        if (!isMissingMember(error)) throw error;
        // A membership vanished between the listing and the insert: one by one, skipping it.
        const ids: string[] = [];
        for (const m of members) ids.push(...(await insert([m]).catch((e) => { if (isMissingMember(e)) return []; throw e; })));
        return ids;
      }
    },

    /** Which of these memberships already have a source. */
    async existingSources(folderFiles: Array<{ folderId: string; fileId: string }>): Promise<Set<string>> {
      if (!folderFiles.length) return new Set();
      const { rows } = await db.raw(`SELECT folder_id, file_id FROM knowledge_sources
        WHERE (folder_id, file_id) IN (SELECT * FROM unnest(?::uuid[], ?::uuid[]))`, [folderFiles.map((m) => m.folderId), folderFiles.map((m) => m.fileId)]);
      return new Set(rows.map((r: { folder_id: string; file_id: string }) => `${r.folder_id}/${r.file_id}`));
    },

    async findSource(id: string): Promise<KnowledgeSource | undefined> {
      const row = await db('knowledge_sources').where({ id }).first();
      return row ? toSource(row) : undefined;
    },

    /** Takes the job: counts the attempt; undefined when it is gone, finished or failed for good. */
    async claim(id: string): Promise<KnowledgeSource | undefined> {
      const [row] = await db('knowledge_sources').where({ id }).whereIn('state', ['queued', 'embedding'])
        .update({ state: 'embedding', attempts: db.raw('attempts + 1'), started_at: db.raw('coalesce(started_at, now())'), updated_at: db.fn.now() })
        .returning('*');
      return row ? toSource(row) : undefined;
    },

    async setTotal(id: string, total: number): Promise<void> {
      await db('knowledge_sources').where({ id }).whereNull('chunks_total').update({ chunks_total: total, updated_at: db.fn.now() });
    },

    /**
     * Stores one embedded batch and advances the progress, in one transaction, only if the source
     * is still at `start` (compare-and-set): a second worker on the same job, or a source removed
     * meanwhile, makes this a no-op (false) instead of a duplicate. This is what makes a job
     * resumable at the last stored chunk without a lease.
     */
    async storeBatch(source: Pick<KnowledgeSource, 'id' | 'userId' | 'folderId'>, start: number, texts: string[], matrix: Buffer, dimensions: number): Promise<boolean> {
      const segmentId = randomUUID();
      const vectorsEnc = await cipher.encryptBytes(source.userId, segmentAt(segmentId), matrix);
      const chunks = await Promise.all(texts.map(async (text, i) => ({
        source_id: source.id, chunk_index: start + i, user_id: source.userId, text_chars: text.length,
        text_enc: await cipher.encryptText(source.userId, chunkAt(source.id, start + i), text),
      })));
      return db.transaction(async (trx) => {
        const advanced = await trx('knowledge_sources').where({ id: source.id, chunks_done: start, state: 'embedding' })
          .update({ chunks_done: start + texts.length, dimensions, updated_at: trx.fn.now() });
        if (advanced === 0) return false;
        await trx('knowledge_segments').insert({
          id: segmentId, user_id: source.userId, source_id: source.id, folder_id: source.folderId, first_chunk: start, chunk_count: texts.length, dimensions, encoding: VECTOR_ENCODING, vectors_enc: vectorsEnc,
        });
        await trx('knowledge_chunks').insert(chunks);
        return true;
      });
    },

    async markReady(id: string): Promise<void> {
      await db('knowledge_sources').where({ id, state: 'embedding' }).update({ state: 'ready', last_error: null, completed_at: db.fn.now(), updated_at: db.fn.now() });
    },

    async recordFailure(id: string, error: string, final: boolean): Promise<void> {
      await db('knowledge_sources').where({ id }).whereIn('state', ['queued', 'embedding'])
        .update({ last_error: error, updated_at: db.fn.now(), ...(final ? { state: 'failed', completed_at: db.fn.now() } : {}) });
    },

    /** Sources whose job must exist (the reconciler checks each against BullMQ). */
    async unfinished(limit = 1000): Promise<KnowledgeSource[]> {
      return (await db('knowledge_sources').whereIn('state', ['queued', 'embedding']).orderBy('updated_at').limit(limit)).map(toSource);
    },

    async folderSources(userId: string, folderId: string): Promise<KnowledgeSource[]> {
      return (await db('knowledge_sources').where({ user_id: userId, folder_id: folderId }).orderBy('created_at')).map(toSource);
    },

    /** Every stored vector segment of the folder: metadata only. */
    async folderSegments(userId: string, folderId: string): Promise<SegmentRef[]> {
      const rows = await db('knowledge_segments as g').join('knowledge_sources as s', 's.id', 'g.source_id')
        .where({ 'g.user_id': userId, 'g.folder_id': folderId, 'g.encoding': VECTOR_ENCODING })
        .select('g.id', 'g.source_id', 's.file_id', 'g.first_chunk', 'g.chunk_count', 'g.dimensions');
      return rows.map((r: { id: string; source_id: string; file_id: string; first_chunk: number; chunk_count: number; dimensions: number }) => ({
        id: r.id, sourceId: r.source_id, fileId: r.file_id, firstChunk: r.first_chunk, chunkCount: r.chunk_count, dimensions: r.dimensions,
      }));
    },

    async segmentCiphertexts(userId: string, ids: string[]): Promise<Map<string, Buffer>> {
      if (!ids.length) return new Map();
      const rows = await db('knowledge_segments').where('user_id', userId).whereIn('id', ids).select('id', 'vectors_enc');
      return new Map(rows.map((r: { id: string; vectors_enc: Buffer }) => [r.id, r.vectors_enc]));
    },

    /** The decrypted matrix of one segment (one AES-GCM call). */
    openSegment: (id: string, ciphertext: Buffer): Promise<Buffer> => cipher.decryptBytes(segmentAt(id), ciphertext),

    /** Decrypted texts of the given chunks (the search's top results only). */
    async chunkTexts(userId: string, refs: ChunkRef[]): Promise<Map<string, string>> {
      if (!refs.length) return new Map();
      const { rows } = await db.raw(`SELECT source_id, chunk_index, text_enc FROM knowledge_chunks
        WHERE user_id = ? AND (source_id, chunk_index) IN (SELECT * FROM unnest(?::uuid[], ?::int[]))`, [userId, refs.map((r) => r.sourceId), refs.map((r) => r.chunkIndex)]);
      const out = new Map<string, string>();
      for (const r of rows as Array<{ source_id: string; chunk_index: number; text_enc: Buffer }>) {
        out.set(`${r.source_id}:${r.chunk_index}`, await cipher.decryptText(chunkAt(r.source_id, r.chunk_index), r.text_enc));
      }
      return out;
    },

    /** A folder's chunks with their text, in file then chunk order, keyset-paged (staff support reads). */
    async folderChunks(userId: string, folderId: string, page: { limit: number; after?: { sourceId: string; chunkIndex: number } }): Promise<{ items: Array<StoredChunk & { sourceId: string }>; more: boolean }> {
      const q = db('knowledge_chunks as c').join('knowledge_sources as s', 's.id', 'c.source_id')
        .where({ 'c.user_id': userId, 's.folder_id': folderId })
        .orderBy([{ column: 'c.source_id' }, { column: 'c.chunk_index' }]).limit(page.limit + 1)
        .select('c.source_id', 'c.chunk_index', 'c.text_enc', 's.folder_id', 's.file_id');
      if (page.after) q.andWhereRaw('(c.source_id, c.chunk_index) > (?::uuid, ?::int)', [page.after.sourceId, page.after.chunkIndex]);
      const rows = await q;
      const items = await Promise.all(rows.slice(0, page.limit).map(async (r: { source_id: string; chunk_index: number; text_enc: Buffer; folder_id: string; file_id: string }) => ({
        sourceId: r.source_id, folderId: r.folder_id, fileId: r.file_id, chunkIndex: r.chunk_index,
        text: await cipher.decryptText(chunkAt(r.source_id, r.chunk_index), r.text_enc),
      })));
      return { items, more: rows.length > page.limit };
    },

    /** Every chunk of the user (export), in keyset batches so memory stays flat. */
    async *eachChunk(userId: string, batchSize = 500): AsyncGenerator<StoredChunk> {
      const folders = await db('knowledge_sources').where('user_id', userId).distinct('folder_id').orderBy('folder_id');
      for (const { folder_id: folderId } of folders as Array<{ folder_id: string }>) {
        let after: { sourceId: string; chunkIndex: number } | undefined;
        for (;;) {
          const page = await this.folderChunks(userId, folderId, { limit: batchSize, after });
          for (const { sourceId: _sourceId, ...chunk } of page.items) yield chunk;
          if (!page.more) break;
          const last = page.items[page.items.length - 1];
          after = { sourceId: last.sourceId, chunkIndex: last.chunkIndex };
        }
      }
    },

    async userSources(userId: string): Promise<KnowledgeSource[]> {
      return (await db('knowledge_sources').where('user_id', userId).orderBy('created_at')).map(toSource);
    },

    /** The operator's view: how many sources in each state, and the failed or oldest unfinished ones (ids only). */
    async summary(limit = 20): Promise<{ counts: Record<SourceState, number>; chunks: number; attention: KnowledgeSource[] }> {
      const counts = { queued: 0, embedding: 0, ready: 0, failed: 0 } as Record<SourceState, number>;
      for (const r of await db('knowledge_sources').groupBy('state').select('state').count<Array<{ state: SourceState; n: string }>>('* as n')) counts[r.state] = Number(r.n);
      const [{ n: chunks }] = await db('knowledge_chunks').count<Array<{ n: string }>>('* as n');
      const attention = (await db('knowledge_sources').whereIn('state', ['failed', 'queued', 'embedding']).orderBy([{ column: 'state' }, { column: 'updated_at' }]).limit(limit)).map(toSource);
      return { counts, chunks: Number(chunks), attention };
    },
  };
}

export type KnowledgeRepo = ReturnType<typeof createKnowledgeRepo>;
