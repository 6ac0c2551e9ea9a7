// Rules for chats and messages, and the one-chat export. Every method takes the owner's user id
// first: routes pass the authenticated user, staff tools (audit module) pass the subject of a
// recorded support read. A chat that is not the user's is NotFound, never Forbidden.
import { NotFoundError } from '../../platform/http/problem.js';
import { decodeCursor } from './chat-paging.js';
import type { ChatRepo } from './chat-repo.js';
import type { Chat, Message, NewMessage, Page, PageRequest } from './chat-types.js';
import { chatView, messageView } from './chat-views.js';

export interface ChatServiceDeps {
  repo: ChatRepo;
}

export type ExportFormat = 'json' | 'markdown';

const keyset = (page: PageRequest) => ({ limit: page.limit, afterSeq: decodeCursor(page.cursor) });

export function createChatService({ repo }: ChatServiceDeps) {
  async function getChat(userId: string, chatId: string): Promise<Chat> {
    const chat = await repo.findChat(userId, chatId);
    if (!chat) throw new NotFoundError('No such chat.');
    return chat;
  }

  return {
    createChat: (userId: string, title: string) => repo.createChat(userId, title),
    getChat,
    /** Newest first. */
    listChats: (userId: string, page: PageRequest): Promise<Page<Chat>> => repo.listChats(userId, keyset(page)),

    async renameChat(userId: string, chatId: string, title: string): Promise<Chat> {
      const chat = await repo.renameChat(userId, chatId, title);
      if (!chat) throw new NotFoundError('No such chat.');
      return chat;
    },

    async deleteChat(userId: string, chatId: string): Promise<void> {
      if (!(await repo.deleteChat(userId, chatId))) throw new NotFoundError('No such chat.');
    },

    async appendMessage(userId: string, chatId: string, message: NewMessage, alongside?: Parameters<ChatRepo['appendMessage']>[3]): Promise<Message> {
      const saved = await repo.appendMessage(userId, chatId, message, alongside);
      if (!saved) throw new NotFoundError('No such chat.');
      return saved;
    },

    /** Oldest first, cursor-paged. */
    async listMessages(userId: string, chatId: string, page: PageRequest): Promise<Page<Message>> {
      const afterSeq = decodeCursor(page.cursor);
      const result = await repo.listMessages(userId, chatId, { limit: page.limit, afterSeq });
      // An empty first page may mean "no messages" or "not your chat": only the latter is a 404.
      if (result.items.length === 0) await getChat(userId, chatId);
      return result;
    },

    /** The chat's newest `limit` messages, oldest first (the context of a completion). */
    async latestMessages(userId: string, chatId: string, limit: number): Promise<Message[]> {
      const messages = await repo.latestMessages(userId, chatId, limit);
      if (messages.length === 0) await getChat(userId, chatId);
      return messages;
    },

    /**
     * One chat as JSON or Markdown, produced piece by piece so a chat of 100k messages streams
     * with flat memory. Checks ownership before yielding anything.
     */
    async exportChat(userId: string, chatId: string, format: ExportFormat): Promise<{ chat: Chat; chunks: AsyncIterable<string> }> {
      const chat = await getChat(userId, chatId);
      const messages = repo.eachMessage(userId, chatId);
      return { chat, chunks: format === 'json' ? jsonExport(chat, messages) : markdownExport(chat, messages) };
    },
  };
}

async function* jsonExport(chat: Chat, messages: AsyncIterable<Message>): AsyncGenerator<string> {
  const head = JSON.stringify({ format: 'custos.chat-export.v1', exportedAt: new Date().toISOString(), chat: chatView(chat) });
  yield `${head.slice(0, -1)},"messages":[`;
  let first = true;
  for await (const message of messages) {
    yield `${first ? '' : ','}\n${JSON.stringify(messageView(message))}`;
    first = false;
  }
  yield '\n]}\n';
}

/** Markdown headings cannot be broken out of by a title: line breaks are flattened. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');

async function* markdownExport(chat: Chat, messages: AsyncIterable<Message>): AsyncGenerator<string> {
  yield `# ${oneLine(chat.title)}\n\n_Chat ${chat.id}, created ${chat.createdAt.toISOString()}, exported ${new Date().toISOString()}._\n`;
  for await (const m of messages) {
    const who = m.role === 'user' ? 'User' : `Assistant${m.model ? ` (${oneLine(m.model)})` : ''}`;
    yield `\n## ${who} — ${m.createdAt.toISOString()}\n\n${m.content}\n`;
  }
}

export type ChatService = ReturnType<typeof createChatService>;
