// SQL for chats and messages. Every query is scoped by user_id, so another user's id simply
// finds nothing (404 upstream). Encrypted columns are sealed and opened here, so ciphertext never
// leaves the repo and plaintext never reaches PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { Knex, ListingReads } from '../../platform/db.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { pageOf } from './chat-paging.js';
import type { Chat, Message, MessageRole, NewMessage, Page } from './chat-types.js';
import { createCopyOutReader, type CopyOutConnection } from '../../platform/pg-copy-out.js';
import { eachSealedRecord, messageContentAt, sealedMessagePageCopy, type SealedMessagePage } from './chat-sealed-pages.js';

interface ChatRow {
  id: string;
  user_id: string;
  seq: number;
  title_enc: Buffer;
  message_count?: number;
  created_at: Date;
  updated_at: Date;
}

export interface MessageRow {
  id: string;
  chat_id: string;
  user_id: string;
  seq: number;
  role: MessageRole;
  content_enc: Buffer;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  created_at: Date;
}

export interface KeysetQuery {
  limit: number;
  /** Exclusive bound on seq from the cursor; direction depends on the listing. */
  afterSeq?: number;
}

const messageCount = (db: Knex) => db.raw('(SELECT count(*) FROM messages m WHERE m.chat_id = chats.id AND m.user_id = chats.user_id)::int AS message_count');

/** `listings`: the pool of listChats, which tolerates replica lag (see ListingReads); everything else reads and writes `db`. */
export function createChatRepo(db: Knex, cipher: FieldCipher, listings: ListingReads) {
  const titleAt = (id: string) => ({ table: 'chats', column: 'title_enc', rowId: id });
  const contentAt = messageContentAt;

  async function toChat(row: ChatRow): Promise<Chat> {
    return {
      id: row.id,
      title: await cipher.decryptText(titleAt(row.id), row.title_enc),
      messageCount: row.message_count ?? 0,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async function toMessage(row: MessageRow): Promise<Message> {
    return {
      id: row.id,
      chatId: row.chat_id,
      role: row.role,
      content: await cipher.decryptText(contentAt(row.id), row.content_enc),
      model: row.model,
      promptTokens: row.prompt_tokens,
      completionTokens: row.completion_tokens,
      createdAt: row.created_at,
    };
  }

  const chatQuery = (userId: string, from: Knex = db) => from('chats').where('chats.user_id', userId).select('chats.*', messageCount(from));

  return {
    toMessage,

    async createChat(userId: string, title: string): Promise<Chat> {
      const id = randomUUID();
      const [row] = await db('chats')
        .insert({ id, user_id: userId, title_enc: await cipher.encryptText(userId, titleAt(id), title) })
        .returning('*');
      return toChat(row);
    },

    async findChat(userId: string, chatId: string): Promise<Chat | undefined> {
      const row = await chatQuery(userId).andWhere('chats.id', chatId).first();
      return row ? toChat(row) : undefined;
    },

    /** Newest first. */
    async listChats(userId: string, query: KeysetQuery): Promise<Page<Chat>> {
      const q = chatQuery(userId, listings).orderBy('chats.seq', 'desc').limit(query.limit + 1);
      if (query.afterSeq !== undefined) q.andWhere('chats.seq', '<', query.afterSeq);
      const { rows, nextCursor } = pageOf(await q, query.limit);
      return { items: await Promise.all(rows.map(toChat)), nextCursor };
    },

    async renameChat(userId: string, chatId: string, title: string): Promise<Chat | undefined> {
      const updated = await db('chats').where({ id: chatId, user_id: userId })
        .update({ title_enc: await cipher.encryptText(userId, titleAt(chatId), title), updated_at: db.fn.now() });
      if (!updated) return undefined;
      const row = await chatQuery(userId).andWhere('chats.id', chatId).first();
      return row ? toChat(row) : undefined;
    },

    /** Messages and folder memberships go with the chat (ON DELETE CASCADE inside the domain). */
    async deleteChat(userId: string, chatId: string): Promise<boolean> {
      return (await db('chats').where({ id: chatId, user_id: userId }).delete()) > 0;
    },

    /** `alongside` runs in the same transaction (an AI reply's metadata lands with its message or not at all). */
    async appendMessage(userId: string, chatId: string, message: NewMessage, alongside?: (trx: Knex.Transaction, saved: Message) => Promise<void>): Promise<Message | undefined> {
      const id = randomUUID();
      const content_enc = await cipher.encryptText(userId, contentAt(id), message.content);
      return db.transaction(async (trx) => {
        // Lock the chat row: it must still be this user's when the message lands.
        const touched = await trx('chats').where({ id: chatId, user_id: userId }).update({ updated_at: trx.fn.now() });
        if (!touched) return undefined;
        const [row] = await trx('messages').insert({
          id,
          chat_id: chatId,
          user_id: userId,
          role: message.role,
          content_enc,
          model: message.model ?? null,
          prompt_tokens: message.promptTokens ?? null,
          completion_tokens: message.completionTokens ?? null,
        }).returning('*');
        const saved = await toMessage(row);
        if (alongside) await alongside(trx, saved);
        return saved;
      });
    },

    /** Raw rows of one chat's messages, oldest first (the benchmark's no-decryption baseline uses this directly). */
    async messageRows(userId: string, chatId: string, query: KeysetQuery): Promise<MessageRow[]> {
      const q = db('messages').where({ user_id: userId, chat_id: chatId }).orderBy('seq', 'asc').limit(query.limit + 1);
      if (query.afterSeq !== undefined) q.andWhere('seq', '>', query.afterSeq);
      return q;
    },

    async listMessages(userId: string, chatId: string, query: KeysetQuery): Promise<Page<Message>> {
      const { rows, nextCursor } = pageOf(await this.messageRows(userId, chatId, query), query.limit);
      return { items: await Promise.all(rows.map(toMessage)), nextCursor };
    },

    /** The chat's newest `limit` messages, oldest first (one indexed read however long the chat). */
    async latestMessages(userId: string, chatId: string, limit: number): Promise<Message[]> {
      const rows: MessageRow[] = await db('messages').where({ user_id: userId, chat_id: chatId }).orderBy('seq', 'desc').limit(limit);
      return Promise.all(rows.reverse().map(toMessage));
    },

    /** Keyset batches over all of a user's chats (exports): memory stays flat whatever the count. */
    async *eachChat(userId: string, batchSize = 500): AsyncGenerator<Chat & { seq: number }> {
      let after = 0;
      for (;;) {
        const rows: ChatRow[] = await chatQuery(userId).andWhere('chats.seq', '>', after).orderBy('chats.seq').limit(batchSize);
        for (const row of rows) yield { ...(await toChat(row)), seq: row.seq };
        if (rows.length < batchSize) return;
        after = rows[rows.length - 1].seq;
      }
    },

    /**
     * Keyset pages, one page read ahead: PostgreSQL reads page n+1 while page n is decrypted (as a
     * batch) and consumed, instead of the export waiting on each round trip in turn (issue 15).
     */
    async *eachMessage(userId: string, chatId?: string, batchSize = 1000): AsyncGenerator<Message> {
      const page = (after: number): Promise<MessageRow[]> => {
        const q = db('messages').where('user_id', userId).andWhere('seq', '>', after).orderBy('seq').limit(batchSize);
        if (chatId) q.andWhere('chat_id', chatId);
        return q;
      };
      let next: Promise<MessageRow[]> | undefined = page(0);
      while (next) {
        const rows: MessageRow[] = await next;
        next = rows.length < batchSize ? undefined : page(rows[rows.length - 1].seq);
        // A failed read-ahead must not become an unhandled rejection while this page is consumed.
        next?.catch(() => {});
        yield* await Promise.all(rows.map(toMessage));
      }
    },

    /**
     * A user's messages for an export, oldest first, still sealed, one binary COPY per page
     * (chat-sealed-pages.ts), for a thread to decrypt: the next page is requested before the
     * current one is consumed, so PostgreSQL works while the caller does. created_at comes as
     * PostgreSQL's ISO text in UTC with milliseconds, what Date#toISOString gives.
     */
    async *eachSealedMessagePage(userId: string, batchSize = 1000): AsyncGenerator<SealedMessagePage> {
      // One pooled connection for the export's pages (COPY reads through it, see pg-copy-out.ts),
      // the next page read while the previous one is decrypted and zipped.
      const connection = await db.client.acquireConnection() as CopyOutConnection;
      const copyOut = createCopyOutReader();
      type Read = Promise<{ bytes: Buffer; rows: number }>;
      const page = (afterSeq: number): Read => copyOut(connection, sealedMessagePageCopy((v) => connection.escapeLiteral(v), userId, afterSeq, batchSize));
      let next: Read | undefined = page(0);
      try {
        while (next) {
          const { bytes, rows }: Awaited<Read> = await next;
          let lastSeq = 0;
          if (rows === batchSize) eachSealedRecord(bytes, (r) => { lastSeq = r.seq; });
          next = rows === batchSize ? page(lastSeq) : undefined;
          next?.catch(() => {});
          if (rows > 0) yield { rows, records: bytes };
        }
      } finally {
        await next?.catch(() => {}); // the connection goes back to the pool idle
        await db.client.releaseConnection(connection);
      }
    },
  };
}

export type ChatRepo = ReturnType<typeof createChatRepo>;
