// The chat domain's share of a user's personal data for exports (GDPR Art. 15/20), and the
// erasure of what lives outside PostgreSQL (the encrypted originals of uploaded files). Rows are
// read in keyset batches (see the repos' each* generators), so an export of 100k messages keeps
// memory flat. Deletion of the rows themselves is generic (privacy module, by user_id).
import { Readable } from 'node:stream';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { PersonalDataProvider } from '../../platform/platform.js';
import type { ChatLibraryRepo } from './chat-library-repo.js';
import type { ChatRepo } from './chat-repo.js';
import type { DataKey } from '../../platform/crypto/key-store.js';
import { decryptedMessagePages } from './chat-export-decryption.js';
import { JsonBuffer } from './chat-message-json.js';
import type { StoredFile } from './chat-types.js';
import { fileStoragePrefix, type ChatLibraryService } from './chat-library-service.js';
import { assistantView, chatView, fileView, folderView, messageView, transactionView } from './chat-views.js';

export interface ChatPersonalDataDeps {
  chats: Pick<ChatRepo, 'eachChat' | 'eachMessage' | 'eachSealedMessagePage'>;
  /** The key store's lookup, for the thread that decrypts an export's messages (chat-export-decryption.ts). */
  keyById: (id: string) => Promise<DataKey>;
  library: Pick<ChatLibraryRepo, 'eachFile' | 'eachFileWithTextBytes' | 'eachStoredFile' | 'eachFolder' | 'eachAssistant' | 'eachTransaction'>;
  readOriginal: ChatLibraryService['readOriginal'];
  artifacts: Pick<ArtifactStorage, 'list' | 'delete'>;
}

function collection<T>(name: string, description: string, each: (userId: string) => AsyncIterable<T>, view: (item: T) => Record<string, unknown>) {
  return {
    name,
    description,
    rows: async function* (userId: string) {
      for await (const item of each(userId)) yield view(item);
    },
  };
}

export const CHAT_MODULE_NAME = 'chat';

/** Keeps a file's export path inside files/ and unique, whatever the user named it. */
const exportName = (id: string, name: string) => `${id}-${name.replace(/[^A-Za-z0-9._ -]/g, '_')}`;
/** Where the export writer puts a module's files: files/<module name>/<path from `files`>. */
const archivePath = (id: string, name: string) => `files/${CHAT_MODULE_NAME}/${exportName(id, name)}`;

const fileExportView = (f: StoredFile & { text: string }) => ({ ...fileView(f), exportPath: archivePath(f.id, f.name), extractedText: f.text });
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('}');

/**
 * fileExportView's JSON, rows separated by ",\n", in chunks of ~256 KiB, the text copied from its
 * decrypted bytes with only the escapes JSON.stringify would add (issue 15: as strings, the text
 * was decoded, stringified and encoded again, each a large string for V8 to collect).
 */
async function* filesJson(files: AsyncIterable<StoredFile & { textBytes: Buffer }>): AsyncGenerator<{ chunks: Buffer[]; rows: number }> {
  let out = new JsonBuffer(256 * 1024);
  let rows = 0;
  const flush = () => {
    const json = out.finish();
    const page = { chunks: [Buffer.from(json.buffer, json.byteOffset, json.byteLength)], rows };
    out = new JsonBuffer(256 * 1024);
    rows = 0;
    return page;
  };
  for await (const f of files) {
    if (rows > 0) out.raw(SEPARATOR);
    // The view with an empty text ends in `"extractedText":""}`: written up to the value, then the bytes.
    const head = JSON.stringify(fileExportView({ ...f, text: '' }));
    out.raw(Buffer.from(head.slice(0, -3), 'utf8'));
    out.jsonString(f.textBytes, 0, f.textBytes.length);
    out.raw(CLOSE);
    rows += 1;
    if (out.length >= 256 * 1024) yield flush();
  }
  if (rows > 0) yield flush();
}

export function chatPersonalData({ chats, keyById, library, readOriginal, artifacts }: ChatPersonalDataDeps): PersonalDataProvider {
  return {
    // Each collection is the same wire shape the API answers (chat-views.ts), so an export reads
    // like the API and the two cannot drift.
    collections: [
      collection('chats', 'Your chats: title (decrypted), message count, created and last-activity times.', chats.eachChat, chatView),
      {
        ...collection('messages', 'Every message of every chat (decrypted), oldest first, with the model and token counts of AI replies.', chats.eachMessage, messageView),
        // The same rows as messageView's JSON, written from bytes (the bulk of most exports), on a
        // thread of its own while this one reads the next pages and zips.
        json: (userId: string, signal: AbortSignal) => decryptedMessagePages(chats.eachSealedMessagePage(userId), { keyById, signal }),
      },
      {
        ...collection('files', 'Uploaded files: name, type, size and the text extracted from them (decrypted). The originals are under files/.',
          library.eachFile, fileExportView),
        // The same JSON, with the extracted text (megabytes per file) written from its bytes.
        json: (userId: string) => filesJson(library.eachFileWithTextBytes(userId)),
      },
      collection('smart_folders', 'Smart folders: name (decrypted) and the chats and files they hold.', library.eachFolder, folderView),
      collection('assistants', 'Assistants: name and instructions (decrypted) and default model.', library.eachAssistant, assistantView),
      collection('transactions', 'Credit ledger: purchases, usage charges and refunds (amounts in cents, signed).', library.eachTransaction, transactionView),
    ],

    files: async function* (userId) {
      for await (const f of library.eachStoredFile(userId)) {
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
