// Staff reads of a user's chat-domain data (chats, messages, files, extracted text, smart
// folders, assistants, transactions) under /api/v1/admin/users/{userId}/…. Each goes through
// `audited`, so the event (with the resource ids) is committed before the chat service is even
// called; the chat service scopes every lookup by the user id, so an id belonging to another
// user is 404 (and the attempt stays in the trail as allowed + failed).
import type { Request } from 'express';
import type { RouteTable } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import { chatView, messageView } from '../chat/chat-service.js';
import type { Assistant, Page, SmartFolder, StoredFile, Transaction } from '../chat/chat-types.js';
import type { Audited } from './staff-access-routes.js';

export type ChatReads = Pick<ChatModuleService,
  'listChats' | 'listMessages' | 'listFiles' | 'getFileText' | 'listSmartFolders' | 'listAssistants' | 'listTransactions' | 'balances'>;

// The same shapes as the user's own routes (the OpenAPI document reuses the chat schemas, and
// response validation in tests keeps the two in step).
const fileView = (f: StoredFile) => ({
  id: f.id, name: f.name, kind: f.kind, mediaType: f.mediaType, sizeBytes: f.sizeBytes, textChars: f.textChars, createdAt: f.createdAt.toISOString(),
});
const folderView = (f: SmartFolder) => ({
  id: f.id, name: f.name, chatIds: f.chatIds, fileIds: f.fileIds, createdAt: f.createdAt.toISOString(), updatedAt: f.updatedAt.toISOString(),
});
const assistantView = (a: Assistant) => ({
  id: a.id, name: a.name, instructions: a.instructions, defaultModel: a.defaultModel, createdAt: a.createdAt.toISOString(), updatedAt: a.updatedAt.toISOString(),
});
const transactionView = (t: Transaction) => ({
  id: t.id, kind: t.kind, amountCents: t.amountCents, currency: t.currency, description: t.description, createdAt: t.createdAt.toISOString(),
});
const pageView = <T, V>(p: Page<T>, view: (item: T) => V) => ({ items: p.items.map(view), nextCursor: p.nextCursor });

const page = (req: Request) => ({ limit: Number(req.query.limit ?? 50), cursor: req.query.cursor as string | undefined });
const param = (req: Request, name: string) => String(req.params[name]);

export function staffUserDataRoutes(audited: Audited, accounts: Pick<AccountsService, 'getAccount'>, chat: ChatReads): RouteTable {
  /** Records, then checks the account exists (an unknown user is 404, not an empty list), then reads. */
  const read = <T>(req: Request, operationId: string, work: (userId: string) => Promise<T>) =>
    audited(req, operationId, async (userId) => {
      await accounts.getAccount('user', userId);
      return work(userId);
    });

  return {
    adminListUserChats: async (req, res) => {
      res.json(pageView(await read(req, 'adminListUserChats', (id) => chat.listChats(id, page(req))), chatView));
    },
    adminListUserMessages: async (req, res) => {
      res.json(pageView(await read(req, 'adminListUserMessages', (id) => chat.listMessages(id, param(req, 'chatId'), page(req))), messageView));
    },
    adminListUserFiles: async (req, res) => {
      res.json(pageView(await read(req, 'adminListUserFiles', (id) => chat.listFiles(id, page(req))), fileView));
    },
    adminGetUserFileText: async (req, res) => {
      const fileId = param(req, 'fileId');
      res.json({ fileId, text: await read(req, 'adminGetUserFileText', (id) => chat.getFileText(id, fileId)) });
    },
    adminListUserSmartFolders: async (req, res) => {
      res.json(pageView(await read(req, 'adminListUserSmartFolders', (id) => chat.listSmartFolders(id, page(req))), folderView));
    },
    adminListUserAssistants: async (req, res) => {
      res.json(pageView(await read(req, 'adminListUserAssistants', (id) => chat.listAssistants(id, page(req))), assistantView));
    },
    adminListUserTransactions: async (req, res) => {
      const [ledger, balances] = await read(req, 'adminListUserTransactions', (id) => Promise.all([chat.listTransactions(id, page(req)), chat.balances(id)]));
      res.json({ ...pageView(ledger, transactionView), balances });
    },
  };
}
