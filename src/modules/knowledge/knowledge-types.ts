// The knowledge base's objects as the service and routes see them: decrypted, never raw rows.

export type SourceState = 'queued' | 'embedding' | 'ready' | 'failed';

/** One file of one smart folder, and where its indexing job is. */
export interface KnowledgeSource {
  id: string;
  userId: string;
  folderId: string;
  fileId: string;
  state: SourceState;
  model: string;
  dimensions: number | null;
  chunkChars: number;
  overlapChars: number;
  chunksTotal: number | null;
  chunksDone: number;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

/** A stored batch of chunk vectors: metadata only (the matrix stays encrypted until scored). */
export interface SegmentRef {
  id: string;
  sourceId: string;
  fileId: string;
  firstChunk: number;
  chunkCount: number;
  dimensions: number;
}

export interface ChunkRef {
  sourceId: string;
  chunkIndex: number;
}

export interface SearchHit {
  fileId: string;
  chunkIndex: number;
  text: string;
  score: number;
}

export interface StoredChunk {
  folderId: string;
  fileId: string;
  chunkIndex: number;
  text: string;
}
