// The chat domain's share of a user's personal data for exports (GDPR Art. 15/20), and the
// erasure of what lives outside PostgreSQL (the encrypted originals of uploaded files). Rows are
// read in keyset batches (see the repos' each* generators), so an export of 100k messages keeps
// memory flat. Deletion of the rows themselves is generic (privacy module, by user_id).
import { Readable } from 'node:stream';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { PersonalDataProvider } from '../../platform/platform.js';
import type { ChatLibraryRepo } from './chat-library-repo.js';
import type { ChatRepo } from './chat-repo.js';
import { fileStoragePrefix, type ChatLibraryService } from './chat-library-service.js';

export interface ChatPersonalDataDeps {
  chats: Pick<ChatRepo, 'eachChat' | 'eachMessage'>;
  library: Pick<ChatLibraryRepo, 'eachFile' | 'eachFolder' | 'eachAssistant' | 'eachTransaction'>;
  readOriginal: ChatLibraryService['readOriginal'];
  artifacts: Pick<ArtifactStorage, 'list' | 'delete'>;
}

const iso = (d: Date) => d.toISOString();

/** Keeps a file's export path inside files/ and unique, whatever the user named it. */
const exportName = (id: string, name: string) => `${id}-${name.replace(/[^A-Za-z0-9._ -]/g, '_')}`;

export function chatPersonalData({ chats, library, readOriginal, artifacts }: ChatPersonalDataDeps): PersonalDataProvider {
  return {
    collections: [
      {
        name: 'chats',
        description: 'Your chats: title (decrypted), message count, created and last-activity times.',
        rows: async function* (userId) {
          for await (const c of chats.eachChat(userId)) {
            yield { id: c.id, title: c.title, messageCount: c.messageCount, createdAt: iso(c.createdAt), updatedAt: iso(c.updatedAt) };
          }
        },
      },
      {
        name: 'messages',
        description: 'Every message of every chat (decrypted), oldest first, with the model and token counts of AI replies.',
        rows: async function* (userId) {
          for await (const m of chats.eachMessage(userId)) {
            yield {
              id: m.id, chatId: m.chatId, role: m.role, content: m.content, model: m.model,
              promptTokens: m.promptTokens, completionTokens: m.completionTokens, createdAt: iso(m.createdAt),
            };
          }
        },
      },
      {
        name: 'files',
        description: 'Uploaded files: name, type, size and the text extracted from them (decrypted). The originals are under files/.',
        rows: async function* (userId) {
          for await (const f of library.eachFile(userId)) {
            yield {
              id: f.id, name: f.name, kind: f.kind, mediaType: f.mediaType, sizeBytes: f.sizeBytes,
              exportPath: `files/${exportName(f.id, f.name)}`, extractedText: f.text, createdAt: iso(f.createdAt),
            };
          }
        },
      },
      {
        name: 'smart_folders',
        description: 'Smart folders: name (decrypted) and the chats and files they hold.',
        rows: async function* (userId) {
          for await (const f of library.eachFolder(userId)) {
            yield { id: f.id, name: f.name, chatIds: f.chatIds, fileIds: f.fileIds, createdAt: iso(f.createdAt), updatedAt: iso(f.updatedAt) };
          }
        },
      },
      {
        name: 'assistants',
        description: 'Assistants: name and instructions (decrypted) and default model.',
        rows: async function* (userId) {
          for await (const a of library.eachAssistant(userId)) {
            yield { id: a.id, name: a.name, instructions: a.instructions, defaultModel: a.defaultModel, createdAt: iso(a.createdAt), updatedAt: iso(a.updatedAt) };
          }
        },
      },
      {
        name: 'transactions',
        description: 'Credit ledger: purchases, usage charges and refunds (amounts in cents, signed).',
        rows: async function* (userId) {
          for await (const t of library.eachTransaction(userId)) {
            yield { id: t.id, kind: t.kind, amountCents: t.amountCents, currency: t.currency, description: t.description, createdAt: iso(t.createdAt) };
          }
        },
      },
    ],

    files: async function* (userId) {
      for await (const f of library.eachFile(userId)) {
        yield {
          path: exportName(f.id, f.name),
          size: f.sizeBytes,
          // Decrypted only when the export writer opens it: one file in memory at a time.
          open: async () => Readable.from([await readOriginal(f)]),
        };
      }
    },

    /** Removes every stored original under files/<userId>/ (also orphans of interrupted deletes). Repeatable. */
    async eraseArtifacts(userId) {
      let removed = 0;
      for (const object of await artifacts.list(fileStoragePrefix(userId))) {
        if (await artifacts.delete(object.key)) removed += 1;
      }
      return removed;
    },
  };
}
