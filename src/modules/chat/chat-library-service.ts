// Rules for files, smart folders, assistants and the credit ledger. Like chat-service.ts, every
// method is keyed by the owner's user id, and another user's ids are NotFound.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { Logger } from '../../platform/logger.js';
import { BadRequestError, NotFoundError, PayloadTooLargeError, UnprocessableError } from '../../platform/http/problem.js';
import { decodeCursor } from './chat-paging.js';
import type { ChatLibraryRepo } from './chat-library-repo.js';
import type { ChatRepo } from './chat-repo.js';
import type { ExtractionPool } from './chat-extraction-pool.js';
import { detectKind } from './chat-text-extraction.js';
import type { NewTransaction, PageRequest, StoredFile, Transaction } from './chat-types.js';

export interface ChatLibraryDeps {
  repo: ChatLibraryRepo;
  chats: Pick<ChatRepo, 'findChat'>;
  artifacts: ArtifactStorage;
  fieldCipher: Pick<FieldCipher, 'encryptBytes' | 'decryptBytes'>;
  extraction: Pick<ExtractionPool, 'extract'>;
  uploadLimitBytes: number;
  logger: Pick<Logger, 'warn'>;
}

export interface Upload {
  fileName: string;
  bytes: Buffer;
}

const keyset = (page: PageRequest) => ({ limit: page.limit, afterSeq: decodeCursor(page.cursor) });
/** The original's location for its AES-GCM associated data: a stored blob copied under another file id fails to open. */
const contentAt = (fileId: string) => ({ table: 'files', column: 'content', rowId: fileId });
export const fileStorageKey = (userId: string, fileId: string) => `files/${userId}/${fileId}`;
export const fileStoragePrefix = (userId: string) => `files/${userId}/`;

const found = <T>(value: T | undefined | false, what: string): T => {
  if (!value) throw new NotFoundError(`No such ${what}.`);
  return value;
};

/** Display name only: no directories, no control characters, bounded length. */
function cleanFileName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 255);
  if (!clean) throw new BadRequestError('The uploaded file needs a name with an extension, such as report.pdf.', [{ field: 'body.file', message: 'has no file name' }]);
  return clean;
}

/** Told after a file joined a smart folder (the knowledge base indexes it). */
export type FolderFileListener = (event: { userId: string; folderId: string; fileId: string }) => Promise<void>;

export function createChatLibraryService({ repo, chats, artifacts, fieldCipher, extraction, uploadLimitBytes, logger }: ChatLibraryDeps) {
  const SIGNS = { purchase: 1, refund: 1, usage: -1 } as const;
  // Modules built after this one subscribe here (the container builds chat first). A listener's
  // failure never undoes the membership: the knowledge base's backfill catches up on its own.
  const folderFileListeners: FolderFileListener[] = [];

  async function checkMember(userId: string, member: { chatId?: string; fileId?: string }) {
    if (Boolean(member.chatId) === Boolean(member.fileId)) {
      throw new BadRequestError('Send exactly one of chatId or fileId.', [{ field: 'body', message: 'needs exactly one of chatId, fileId' }]);
    }
    if (member.chatId) found(await chats.findChat(userId, member.chatId), 'chat');
    if (member.fileId) found(await repo.findFile(userId, member.fileId), 'file');
  }

  return {
    // Files
    /**
     * Extracts the text, then stores the encrypted original and the row. Any failure before the
     * row is committed removes the stored object again, so a rejected upload leaves nothing behind.
     */
    async uploadFile(userId: string, upload: Upload): Promise<StoredFile> {
      const name = cleanFileName(upload.fileName);
      const { kind, mediaType } = detectKind(name);
      if (upload.bytes.length > uploadLimitBytes) {
        throw new PayloadTooLargeError(`The file is larger than the ${uploadLimitBytes} bytes allowed (CUSTOS_UPLOAD_LIMIT_BYTES).`);
      }
      if (upload.bytes.length === 0) throw new UnprocessableError('The file is empty. Nothing was stored.');
      // Off the event loop, under the extraction limits; a refusal (422/503) happens before anything is stored.
      const text = await extraction.extract(kind, upload.bytes);

      const id = randomUUID();
      const storageKey = fileStorageKey(userId, id);
      const sealed = await fieldCipher.encryptBytes(userId, contentAt(id), upload.bytes);
      await artifacts.put(storageKey, Readable.from([sealed]));
      try {
        return await repo.insertFile(userId, { id, name, kind, mediaType, sizeBytes: upload.bytes.length, text, storageKey });
      } catch (error) {
        await artifacts.delete(storageKey).catch((e) => logger.warn({ err: e, storageKey }, 'could not remove the stored object of a failed upload'));
        throw error;
      }
    },
    getFile: async (userId: string, fileId: string) => found(await repo.findFile(userId, fileId), 'file'),
    getFileText: async (userId: string, fileId: string) => found(await repo.fileText(userId, fileId), 'file') as string,
    listFiles: (userId: string, page: PageRequest) => repo.listFiles(userId, keyset(page)),
    /** The decrypted original bytes. */
    async readFileContent(userId: string, fileId: string): Promise<{ file: StoredFile; bytes: Buffer }> {
      const file = found(await repo.findFile(userId, fileId), 'file');
      return { file, bytes: await readOriginal(file) };
    },
    async deleteFile(userId: string, fileId: string): Promise<void> {
      const file = found(await repo.findFile(userId, fileId), 'file');
      found(await repo.deleteFile(userId, fileId), 'file');
      // After the row: if this fails, eraseArtifacts (prefix sweep) still finds the orphan.
      await artifacts.delete(file.storageKey);
    },

    // Smart folders
    createSmartFolder: (userId: string, name: string) => repo.createFolder(userId, name),
    getSmartFolder: async (userId: string, folderId: string) => found(await repo.findFolder(userId, folderId), 'smart folder'),
    listSmartFolders: (userId: string, page: PageRequest) => repo.listFolders(userId, keyset(page)),
    smartFolderIdsOfChat: (userId: string, chatId: string) => repo.folderIdsOfChat(userId, chatId),
    async renameSmartFolder(userId: string, folderId: string, name: string) {
      found(await repo.renameFolder(userId, folderId, name), 'smart folder');
      return found(await repo.findFolder(userId, folderId), 'smart folder');
    },
    async deleteSmartFolder(userId: string, folderId: string) {
      found(await repo.deleteFolder(userId, folderId), 'smart folder');
    },
    async addSmartFolderMember(userId: string, folderId: string, member: { chatId?: string; fileId?: string }) {
      found(await repo.findFolder(userId, folderId), 'smart folder');
      await checkMember(userId, member);
      await repo.addFolderMember(userId, folderId, member);
      if (member.fileId) {
        const event = { userId, folderId, fileId: member.fileId };
        for (const listener of folderFileListeners) {
          await listener(event).catch((error: Error) => logger.warn({ err: { name: error.name }, folderId }, 'a smart-folder listener failed; its backfill will catch up'));
        }
      }
      return found(await repo.findFolder(userId, folderId), 'smart folder');
    },
    onFolderFileAdded(listener: FolderFileListener): void {
      folderFileListeners.push(listener);
    },
    /** Every file membership after `afterSeq` (ids only), for modules that index folder contents. */
    folderFileMembers: (afterSeq: number, limit: number) => repo.folderFileMembers(afterSeq, limit),
    async removeSmartFolderMember(userId: string, folderId: string, member: { chatId?: string; fileId?: string }) {
      found(await repo.findFolder(userId, folderId), 'smart folder');
      found(await repo.removeFolderMember(userId, folderId, member), member.chatId ? 'chat in this folder' : 'file in this folder');
    },

    // Assistants
    createAssistant: (userId: string, input: { name: string; instructions: string; defaultModel: string }) => repo.createAssistant(userId, input),
    getAssistant: async (userId: string, assistantId: string) => found(await repo.findAssistant(userId, assistantId), 'assistant'),
    listAssistants: (userId: string, page: PageRequest) => repo.listAssistants(userId, keyset(page)),
    async updateAssistant(userId: string, assistantId: string, patch: { name?: string; instructions?: string; defaultModel?: string }) {
      found(await repo.updateAssistant(userId, assistantId, patch), 'assistant');
      return found(await repo.findAssistant(userId, assistantId), 'assistant');
    },
    async deleteAssistant(userId: string, assistantId: string) {
      found(await repo.deleteAssistant(userId, assistantId), 'assistant');
    },

    // Transactions
    /** The ledger's only writer: the relay (usage), the credits CLI (purchases), support (refunds). */
    async recordTransaction(userId: string, input: NewTransaction): Promise<Transaction> {
      if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0) {
        throw new BadRequestError('amountCents must be a positive whole number of cents; the sign follows from the kind.');
      }
      if (!/^[A-Z]{3}$/.test(input.currency)) throw new BadRequestError('currency must be an ISO 4217 code such as EUR.');
      return repo.insertTransaction(userId, { ...input, signedAmountCents: SIGNS[input.kind] * input.amountCents });
    },
    listTransactions: (userId: string, page: PageRequest) => repo.listTransactions(userId, keyset(page)),
    balances: (userId: string) => repo.balances(userId),
    /** Decrypted original of a file already looked up for its owner (exports). */
    readOriginal,
  };

  async function readOriginal(file: StoredFile): Promise<Buffer> {
    const stream = await artifacts.get(file.storageKey);
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return fieldCipher.decryptBytes(contentAt(file.id), Buffer.concat(parts));
  }
}

export type ChatLibraryService = ReturnType<typeof createChatLibraryService>;
