// Staff reads of a user's chat-domain data (chats, messages, files, extracted text, smart
// folders, assistants, transactions) under /api/v1/admin/users/{userId}/…. Each goes through
// `audited`, so the event (with the resource ids) is committed before the chat service is even
// called; the chat service scopes every lookup by the user id, so an id belonging to another
// user is 404 (and the attempt stays in the trail as allowed + failed).
import type { Request } from 'express';
import type { RouteTable } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import { assistantView, chatView, fileView, folderView, messageView, pageView, transactionView } from '../chat/chat-views.js';
import type { Audited } from './staff-access-routes.js';

export type ChatReads = Pick<ChatModuleService,
  'listChats' | 'listMessages' | 'listFiles' | 'getFileText' | 'listSmartFolders' | 'listAssistants' | 'listTransactions' | 'balances'>;


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
