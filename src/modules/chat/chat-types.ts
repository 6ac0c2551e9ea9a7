// The chat domain's objects as the service and routes see them: always decrypted, never raw rows.

export interface Page<T> {
  items: T[];
  /** Opaque cursor of the next page; null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface Chat {
  id: string;
  title: string;
  messageCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export type MessageRole = 'user' | 'assistant';

export interface Message {
  id: string;
  chatId: string;
  role: MessageRole;
  content: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: Date;
}

export interface NewMessage {
  role: MessageRole;
  content: string;
  model?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
}

export type FileKind = 'pdf' | 'docx' | 'xlsx' | 'csv' | 'txt' | 'markdown';

export interface StoredFile {
  id: string;
  name: string;
  kind: FileKind;
  mediaType: string;
  sizeBytes: number;
  textChars: number;
  storageKey: string;
  createdAt: Date;
}

export interface SmartFolder {
  id: string;
  name: string;
  chatIds: string[];
  fileIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface Assistant {
  id: string;
  name: string;
  instructions: string;
  defaultModel: string;
  createdAt: Date;
  updatedAt: Date;
}

export type TransactionKind = 'purchase' | 'usage' | 'refund';

export interface Transaction {
  id: string;
  kind: TransactionKind;
  /** Signed: purchases and refunds are credits (> 0), usage is a debit (< 0). */
  amountCents: number;
  currency: string;
  description: string;
  createdAt: Date;
}

export interface NewTransaction {
  kind: TransactionKind;
  /** Magnitude in cents (> 0); the sign follows from the kind. */
  amountCents: number;
  currency: string;
  description: string;
}
