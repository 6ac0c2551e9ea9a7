// SQL for the user's library around chats: files, smart folders, assistants and the credit
// ledger. Same rules as chat-repo.ts: scoped by user_id, encrypted columns sealed and opened here.
import { randomUUID } from 'node:crypto';
import type { Knex, ListingReads } from '../../platform/db.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { pageOf } from './chat-paging.js';
import type { KeysetQuery } from './chat-repo.js';
import type { Assistant, FileKind, NewTransaction, Page, SmartFolder, StoredFile, Transaction, TransactionKind } from './chat-types.js';

interface FileRow {
  id: string; user_id: string; seq: number; name_enc: Buffer; kind: FileKind; media_type: string;
  size_bytes: number; text_enc: Buffer; text_chars: number; storage_key: string; created_at: Date;
}
const FILE_COLUMNS_WITHOUT_TEXT = ['id', 'user_id', 'seq', 'name_enc', 'kind', 'media_type', 'size_bytes', 'text_chars', 'storage_key', 'created_at'];
interface FolderRow { id: string; user_id: string; seq: number; name_enc: Buffer; created_at: Date; updated_at: Date }
interface AssistantRow {
  id: string; user_id: string; seq: number; name_enc: Buffer; instructions_enc: Buffer; default_model: string;
  created_at: Date; updated_at: Date;
}
interface TransactionRow {
  id: string; user_id: string; seq: number; kind: TransactionKind; amount_cents: number; currency: string;
  description_enc: Buffer; created_at: Date;
}

export interface NewFileRecord {
  id: string;
  name: string;
  kind: FileKind;
  mediaType: string;
  sizeBytes: number;
  text: string;
  storageKey: string;
}

const at = (table: string, column: string, rowId: string) => ({ table, column, rowId });

/** Newest first, keyset on seq. */
async function newestFirst<Row extends { seq: number }>(q: Knex.QueryBuilder, query: KeysetQuery) {
  q.orderBy('seq', 'desc').limit(query.limit + 1);
  if (query.afterSeq !== undefined) q.andWhere('seq', '<', query.afterSeq);
  return pageOf((await q) as Row[], query.limit);
}

/** Keyset batches over one user's rows of `table`, oldest first, for exports. */
async function* eachRow<Row extends { seq: number }>(db: Knex, table: string, userId: string, batchSize = 500, columns: string[] = ['*']): AsyncGenerator<Row> {
  let after = 0;
  for (;;) {
    const rows: Row[] = await db(table).select(columns).where('user_id', userId).andWhere('seq', '>', after).orderBy('seq').limit(batchSize);
    yield* rows;
    if (rows.length < batchSize) return;
    after = rows[rows.length - 1].seq;
  }
}

/** `listings`: the pool of listFiles, which tolerates replica lag (see ListingReads); everything else reads and writes `db`. */
export function createChatLibraryRepo(db: Knex, cipher: FieldCipher, listings: ListingReads) {
  const toFile = async (row: FileRow): Promise<StoredFile> => ({
    id: row.id,
    name: await cipher.decryptText(at('files', 'name_enc', row.id), row.name_enc),
    kind: row.kind,
    mediaType: row.media_type,
    sizeBytes: row.size_bytes,
    textChars: row.text_chars,
    storageKey: row.storage_key,
    createdAt: row.created_at,
  });

  async function toFolder(row: FolderRow): Promise<SmartFolder> {
    const members = await db('smart_folder_members').where({ folder_id: row.id, user_id: row.user_id }).orderBy('seq');
    return {
      id: row.id,
      name: await cipher.decryptText(at('smart_folders', 'name_enc', row.id), row.name_enc),
      chatIds: members.filter((m) => m.chat_id).map((m) => m.chat_id as string),
      fileIds: members.filter((m) => m.file_id).map((m) => m.file_id as string),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  const toAssistant = async (row: AssistantRow): Promise<Assistant> => ({
    id: row.id,
    name: await cipher.decryptText(at('assistants', 'name_enc', row.id), row.name_enc),
    instructions: await cipher.decryptText(at('assistants', 'instructions_enc', row.id), row.instructions_enc),
    defaultModel: row.default_model,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });

  const toTransaction = async (row: TransactionRow): Promise<Transaction> => ({
    id: row.id,
    kind: row.kind,
    amountCents: row.amount_cents,
    currency: row.currency,
    description: await cipher.decryptText(at('transactions', 'description_enc', row.id), row.description_enc),
    createdAt: row.created_at,
  });

  /** Each file with its extracted text as its decrypted UTF-8 bytes, for an export that writes them into JSON as they are. */
  async function* eachFileWithTextBytes(userId: string): AsyncGenerator<StoredFile & { textBytes: Buffer }> {
    for await (const row of eachRow<FileRow>(db, 'files', userId)) {
      yield { ...(await toFile(row)), textBytes: await cipher.decryptBytes(at('files', 'text_enc', row.id), row.text_enc) };
    }
  }
  const mapPage = async <Row, T>(page: { rows: Row[]; nextCursor: string | null }, map: (row: Row) => Promise<T>): Promise<Page<T>> =>
    ({ items: await Promise.all(page.rows.map(map)), nextCursor: page.nextCursor });

  return {
    // Files
    async insertFile(userId: string, file: NewFileRecord): Promise<StoredFile> {
      const [row] = await db('files').insert({
        id: file.id,
        user_id: userId,
        name_enc: await cipher.encryptText(userId, at('files', 'name_enc', file.id), file.name),
        kind: file.kind,
        media_type: file.mediaType,
        size_bytes: file.sizeBytes,
        text_enc: await cipher.encryptText(userId, at('files', 'text_enc', file.id), file.text),
        text_chars: file.text.length,
        storage_key: file.storageKey,
      }).returning('*');
      return toFile(row);
    },
    async findFile(userId: string, fileId: string): Promise<StoredFile | undefined> {
      const row = await db('files').where({ id: fileId, user_id: userId }).first();
      return row ? toFile(row) : undefined;
    },
    async fileText(userId: string, fileId: string): Promise<string | undefined> {
      const row = await db('files').where({ id: fileId, user_id: userId }).first('id', 'text_enc');
      return row ? cipher.decryptText(at('files', 'text_enc', row.id), row.text_enc) : undefined;
    },
    async listFiles(userId: string, query: KeysetQuery): Promise<Page<StoredFile>> {
      return mapPage(await newestFirst<FileRow>(listings('files').where('user_id', userId), query), toFile);
    },
    async deleteFile(userId: string, fileId: string): Promise<boolean> {
      return (await db('files').where({ id: fileId, user_id: userId }).delete()) > 0;
    },
    eachFileWithTextBytes,
    async *eachFile(userId: string): AsyncGenerator<StoredFile & { text: string }> {
      for await (const { textBytes, ...file } of eachFileWithTextBytes(userId)) yield { ...file, text: textBytes.toString('utf8') };
    },
    /** eachFile without the extracted text: an export reads the originals this way (the text is megabytes the files.json entry has already taken). */
    async *eachStoredFile(userId: string): AsyncGenerator<StoredFile> {
      for await (const row of eachRow<FileRow>(db, 'files', userId, 500, FILE_COLUMNS_WITHOUT_TEXT)) yield toFile(row);
    },

    // Smart folders
    async createFolder(userId: string, name: string): Promise<SmartFolder> {
      const id = randomUUID();
      const [row] = await db('smart_folders')
        .insert({ id, user_id: userId, name_enc: await cipher.encryptText(userId, at('smart_folders', 'name_enc', id), name) })
        .returning('*');
      return toFolder(row);
    },
    async findFolder(userId: string, folderId: string): Promise<SmartFolder | undefined> {
      const row = await db('smart_folders').where({ id: folderId, user_id: userId }).first();
      return row ? toFolder(row) : undefined;
    },
    async listFolders(userId: string, query: KeysetQuery): Promise<Page<SmartFolder>> {
      return mapPage(await newestFirst<FolderRow>(db('smart_folders').where('user_id', userId), query), toFolder);
    },
    async renameFolder(userId: string, folderId: string, name: string): Promise<boolean> {
      return (await db('smart_folders').where({ id: folderId, user_id: userId })
        .update({ name_enc: await cipher.encryptText(userId, at('smart_folders', 'name_enc', folderId), name), updated_at: db.fn.now() })) > 0;
    },
    async deleteFolder(userId: string, folderId: string): Promise<boolean> {
      return (await db('smart_folders').where({ id: folderId, user_id: userId }).delete()) > 0;
    },
    /** Adds a chat or file; a member already present is left as it is. */
    async addFolderMember(userId: string, folderId: string, member: { chatId?: string; fileId?: string }): Promise<void> {
      const conflict = member.chatId ? ['folder_id', 'chat_id'] : ['folder_id', 'file_id'];
      await db('smart_folder_members')
        .insert({ folder_id: folderId, user_id: userId, chat_id: member.chatId ?? null, file_id: member.fileId ?? null })
        .onConflict(conflict).ignore();
      await db('smart_folders').where({ id: folderId, user_id: userId }).update({ updated_at: db.fn.now() });
    },
    async removeFolderMember(userId: string, folderId: string, member: { chatId?: string; fileId?: string }): Promise<boolean> {
      const q = db('smart_folder_members').where({ folder_id: folderId, user_id: userId });
      if (member.chatId) q.andWhere('chat_id', member.chatId);
      else q.andWhere('file_id', member.fileId!);
      return (await q.delete()) > 0;
    },
    /** The ids of the user's smart folders that hold the chat (one indexed read). */
    async folderIdsOfChat(userId: string, chatId: string): Promise<string[]> {
      const rows: Array<{ folder_id: string }> = await db('smart_folder_members').where({ user_id: userId, chat_id: chatId }).select('folder_id');
      return rows.map((row) => row.folder_id);
    },
    /** Every file membership of every user, in seq order after `afterSeq` (the knowledge base's backfill). */
    async folderFileMembers(afterSeq: number, limit: number): Promise<Array<{ seq: number; userId: string; folderId: string; fileId: string }>> {
      const rows = await db('smart_folder_members').whereNotNull('file_id').andWhere('seq', '>', afterSeq).orderBy('seq').limit(limit)
        .select('seq', 'user_id', 'folder_id', 'file_id');
      return rows.map((r: { seq: string | number; user_id: string; folder_id: string; file_id: string }) => ({ seq: Number(r.seq), userId: r.user_id, folderId: r.folder_id, fileId: r.file_id }));
    },
    async *eachFolder(userId: string): AsyncGenerator<SmartFolder> {
      for await (const row of eachRow<FolderRow>(db, 'smart_folders', userId)) yield toFolder(row);
    },

    // Assistants
    async createAssistant(userId: string, input: { name: string; instructions: string; defaultModel: string }): Promise<Assistant> {
      const id = randomUUID();
      const [row] = await db('assistants').insert({
        id,
        user_id: userId,
        name_enc: await cipher.encryptText(userId, at('assistants', 'name_enc', id), input.name),
        instructions_enc: await cipher.encryptText(userId, at('assistants', 'instructions_enc', id), input.instructions),
        default_model: input.defaultModel,
      }).returning('*');
      return toAssistant(row);
    },
    async findAssistant(userId: string, assistantId: string): Promise<Assistant | undefined> {
      const row = await db('assistants').where({ id: assistantId, user_id: userId }).first();
      return row ? toAssistant(row) : undefined;
    },
    async listAssistants(userId: string, query: KeysetQuery): Promise<Page<Assistant>> {
      return mapPage(await newestFirst<AssistantRow>(db('assistants').where('user_id', userId), query), toAssistant);
    },
    async updateAssistant(userId: string, assistantId: string, patch: { name?: string; instructions?: string; defaultModel?: string }): Promise<boolean> {
      const changes: Record<string, unknown> = { updated_at: db.fn.now() };
      if (patch.name !== undefined) changes.name_enc = await cipher.encryptText(userId, at('assistants', 'name_enc', assistantId), patch.name);
      if (patch.instructions !== undefined) {
        changes.instructions_enc = await cipher.encryptText(userId, at('assistants', 'instructions_enc', assistantId), patch.instructions);
      }
      if (patch.defaultModel !== undefined) changes.default_model = patch.defaultModel;
      return (await db('assistants').where({ id: assistantId, user_id: userId }).update(changes)) > 0;
    },
    async deleteAssistant(userId: string, assistantId: string): Promise<boolean> {
      return (await db('assistants').where({ id: assistantId, user_id: userId }).delete()) > 0;
    },
    async *eachAssistant(userId: string): AsyncGenerator<Assistant> {
      for await (const row of eachRow<AssistantRow>(db, 'assistants', userId)) yield toAssistant(row);
    },

    // Transactions (append-only ledger)
    async insertTransaction(userId: string, input: NewTransaction & { signedAmountCents: number }): Promise<Transaction> {
      const id = randomUUID();
      const [row] = await db('transactions').insert({
        id,
        user_id: userId,
        kind: input.kind,
        amount_cents: input.signedAmountCents,
        currency: input.currency,
        description_enc: await cipher.encryptText(userId, at('transactions', 'description_enc', id), input.description),
      }).returning('*');
      return toTransaction(row);
    },
    async listTransactions(userId: string, query: KeysetQuery): Promise<Page<Transaction>> {
      return mapPage(await newestFirst<TransactionRow>(db('transactions').where('user_id', userId), query), toTransaction);
    },
    async balances(userId: string): Promise<Array<{ currency: string; balanceCents: number }>> {
      const rows = await db('transactions').where('user_id', userId).groupBy('currency').orderBy('currency')
        .select('currency', db.raw('sum(amount_cents)::bigint AS balance_cents'));
      return rows.map((r: { currency: string; balance_cents: number }) => ({ currency: r.currency, balanceCents: Number(r.balance_cents) }));
    },
    async *eachTransaction(userId: string): AsyncGenerator<Transaction> {
      for await (const row of eachRow<TransactionRow>(db, 'transactions', userId)) yield toTransaction(row);
    },
  };
}

export type ChatLibraryRepo = ReturnType<typeof createChatLibraryRepo>;
