// How the chat domain's objects look on the wire: one place, shared by the user's own routes and
// the audited staff reads, so the two always answer the same OpenAPI schemas.
import type { Assistant, Chat, Message, Page, SmartFolder, StoredFile, Transaction } from './chat-types.js';

export const messageView = (m: Message) => ({
  id: m.id,
  chatId: m.chatId,
  role: m.role,
  content: m.content,
  model: m.model,
  promptTokens: m.promptTokens,
  completionTokens: m.completionTokens,
  createdAt: m.createdAt.toISOString(),
});

export const chatView = (c: Chat) => ({
  id: c.id,
  title: c.title,
  messageCount: c.messageCount,
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

export const fileView = (f: StoredFile) => ({
  id: f.id, name: f.name, kind: f.kind, mediaType: f.mediaType, sizeBytes: f.sizeBytes, textChars: f.textChars, createdAt: f.createdAt.toISOString(),
});
export const folderView = (f: SmartFolder) => ({
  id: f.id, name: f.name, chatIds: f.chatIds, fileIds: f.fileIds, createdAt: f.createdAt.toISOString(), updatedAt: f.updatedAt.toISOString(),
});
export const assistantView = (a: Assistant) => ({
  id: a.id, name: a.name, instructions: a.instructions, defaultModel: a.defaultModel, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString(),
});
export const transactionView = (t: Transaction) => ({
  id: t.id, kind: t.kind, amountCents: t.amountCents, currency: t.currency, description: t.description, createdAt: t.createdAt.toISOString(),
});
export const pageView = <T, V>(p: Page<T>, view: (item: T) => V) => ({ items: p.items.map(view), nextCursor: p.nextCursor });
