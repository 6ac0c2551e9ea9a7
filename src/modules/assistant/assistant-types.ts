// The assistant module's objects: AI replies' metadata, citations, and the narrowed knowledge
// dependency (the knowledge module's search, issue 13) completions use for smart-folder context.
import type { ProviderName } from '../relay/relay-catalogue.js';

export interface Citation {
  fileId: string;
  chunkIndex: number;
  score: number;
}

/** The knowledge module's search, as completions use it (contract with src/modules/knowledge). */
export interface KnowledgeSearch {
  search(userId: string, folderId: string, input: { query: string; limit: number }): Promise<{ items: Array<{ fileId: string; chunkIndex: number; text: string; score: number }> }>;
}

export type CompletionStatus = 'complete' | 'incomplete';
export type TokenSource = 'platform' | 'user';

export interface NewCompletion {
  id: string;
  chatId: string;
  messageId: string;
  model: string;
  provider: ProviderName;
  assistantId: string | null;
  status: CompletionStatus;
  tokenSource: TokenSource;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costMicrocents: number;
  citations: Citation[];
}

export interface CompletionRecord extends Omit<NewCompletion, 'id'> {
  id: string;
  createdAt: Date;
}
