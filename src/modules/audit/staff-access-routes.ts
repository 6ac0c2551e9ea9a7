// Staff support tools under /api/v1/admin/users/{userId}/…: every handler goes through
// `audited`, which writes the event (staff, reason, justification, what) and awaits its commit
// before the read or change runs. If the write fails, the request fails: nothing is returned
// that the trail does not show (fail closed).
import type { Request } from 'express';
import { requireStaff } from '../../platform/http/auth.js';
import { BadRequestError, toProblem } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { Account } from '../accounts/accounts-types.js';
import { requestContext, type AuditService } from './audit-service.js';
import { ACCESS_REASONS, type AccessReason } from './audit-types.js';

/**
 * operationId -> the action recorded, what kind of resource it touches, and which path parameter
 * (after the user id) names the resource, so the event says exactly what was read or changed.
 */
export const STAFF_ACCESS_ACTIONS: Record<string, { action: string; resourceType: string; idParam?: string; change?: true }> = {
  adminFindUsers: { action: 'admin.users.search', resourceType: 'account' },
  adminGetUser: { action: 'admin.user.read', resourceType: 'account' },
  adminListUserSessions: { action: 'admin.user.sessions.read', resourceType: 'sessions' },
  adminRevokeUserSessions: { action: 'admin.user.sessions.revoke', resourceType: 'sessions', change: true },
  adminListUserChats: { action: 'admin.user.chats.read', resourceType: 'chats' },
  adminListUserMessages: { action: 'admin.user.messages.read', resourceType: 'chat_messages', idParam: 'chatId' },
  adminListUserFiles: { action: 'admin.user.files.read', resourceType: 'files' },
  adminGetUserFileText: { action: 'admin.user.file_text.read', resourceType: 'file_text', idParam: 'fileId' },
  adminListUserSmartFolders: { action: 'admin.user.smart_folders.read', resourceType: 'smart_folders' },
  adminGetUserSmartFolderKnowledge: { action: 'admin.user.knowledge.read', resourceType: 'knowledge_chunks', idParam: 'folderId' },
  adminListUserAssistants: { action: 'admin.user.assistants.read', resourceType: 'assistants' },
  adminListUserTransactions: { action: 'admin.user.transactions.read', resourceType: 'transactions' },
  adminLockUser: { action: 'admin.user.lock', resourceType: 'account', change: true },
  adminUnlockUser: { action: 'admin.user.unlock', resourceType: 'account', change: true },
};

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The resource ids an event names: the user, then the specific resource when the path has one. */
export function resourceIdsFor(operationId: string, params: Record<string, unknown> | undefined): string[] {
  const ids = [params?.userId, params?.[STAFF_ACCESS_ACTIONS[operationId]?.idParam ?? '']];
  return ids.filter((id): id is string => typeof id === 'string' && uuid.test(id));
}

export function accessReason(req: Request): { reason: AccessReason; justification: string } | { problem: string } {
  const reason = req.get('x-access-reason');
  const justification = req.get('x-access-justification')?.trim();
  if (!reason || !(ACCESS_REASONS as readonly string[]).includes(reason)) {
    return { problem: `Send X-Access-Reason with one of ${ACCESS_REASONS.join(', ')}.` };
  }
  if (!justification || justification.length > 500) return { problem: 'Send X-Access-Justification: a ticket reference or explanation of 1–500 characters.' };
  return { reason: reason as AccessReason, justification };
}

type Accounts = Pick<AccountsService, 'getAccount' | 'findUsersByEmail' | 'listSessions' | 'revokeAllSessions' | 'setUserLocked'>;
export type Audited = <T>(req: Request, operationId: string, work: (userId: string) => Promise<T>) => Promise<T>;

/**
 * Wraps a staff read or change: records the access (staff, reason, justification, resource ids)
 * and awaits its commit before `work` runs; a failure of `work` is recorded as 'failed' too, so an
 * attempt on another user's resource (404) stays visible.
 */
export function auditedAccess(audit: Pick<AuditService, 'record' | 'recordedRead'>): Audited {
  return async function audited<T>(req: Request, operationId: string, work: (userId: string) => Promise<T>): Promise<T> {
    const staff = requireStaff(req);
    const userId = String(req.params.userId);
    const { action, resourceType, change } = STAFF_ACCESS_ACTIONS[operationId];
    const { limit, cursor } = req.query as { limit?: unknown; cursor?: unknown };
    const base = {
      actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role },
      action,
      subjectUserId: userId,
      resourceType,
      resourceIds: resourceIdsFor(operationId, req.params),
      ...requestContext(req),
    };
    // Which page of a listing was read, so the trail says what the staff member saw.
    const page = limit !== undefined || cursor !== undefined ? `page limit=${limit ?? 'default'}${cursor ? ` cursor=${String(cursor).slice(0, 100)}` : ''}` : null;
    const stated = accessReason(req);
    if ('problem' in stated) {
      // The validator rejects these first; kept so the rule holds even without it.
      await audit.record({ ...base, outcome: 'denied', detail: `invalid request: ${stated.problem}` });
      throw new BadRequestError(stated.problem);
    }
    const allowed = { ...base, ...stated, outcome: 'allowed' as const, detail: page };
    // A change runs only once its record is committed; a read runs alongside the insert and is
    // released only after the commit (recordedRead). Either way nothing leaves unrecorded.
    let workError: unknown;
    const attempt = () => work(userId).catch((error: unknown) => { workError = error; throw error; });
    if (change) await audit.record(allowed);
    try {
      return change ? await attempt() : await audit.recordedRead(allowed, attempt);
    } catch (error) {
      if (error !== workError) throw error; // recording failed: nothing was returned, nothing more to record
      const { problem } = toProblem(error);
      await audit.record({ ...base, ...stated, outcome: 'failed', detail: `${problem.status} ${problem.title}` }).catch(() => {});
      throw error;
    }
  };
}

/**
 * A staff search by email, which has no user id in its path: the lookup runs first (its result
 * held in memory), then the event naming the matched account is committed, and only then is
 * anything returned; if recording fails, nothing is (fail closed). The searched text is not
 * stored: the trail names who was found, and the justification says why.
 */
export function auditedSearch(audit: Pick<AuditService, 'record'>, accounts: Pick<AccountsService, 'findUsersByEmail'>) {
  return async (req: Request): Promise<Account[]> => {
    const staff = requireStaff(req);
    const { action, resourceType } = STAFF_ACCESS_ACTIONS.adminFindUsers;
    const base = {
      actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role },
      action,
      resourceType,
      ...requestContext(req),
    };
    const stated = accessReason(req);
    if ('problem' in stated) {
      await audit.record({ ...base, outcome: 'denied', detail: `invalid request: ${stated.problem}` });
      throw new BadRequestError(stated.problem);
    }
    let matches: Account[];
    try {
      matches = await accounts.findUsersByEmail(String(req.query.email ?? ''));
    } catch (error) {
      const { problem } = toProblem(error);
      await audit.record({ ...base, ...stated, outcome: 'failed', detail: `${problem.status} ${problem.title}` }).catch(() => {});
      throw error;
    }
    await audit.record({
      ...base,
      ...stated,
      outcome: 'allowed',
      subjectUserId: matches[0]?.id ?? null,
      resourceIds: matches.map((m) => m.id),
      detail: `email search: ${matches.length} match${matches.length === 1 ? '' : 'es'}`,
    });
    return matches;
  };
}

const adminAccountView = (account: Account) => ({
  id: account.id,
  email: account.email,
  status: account.status!,
  createdAt: account.createdAt.toISOString(),
  twoFactor: { totp: Boolean(account.totpConfirmedAt) },
});

export function staffAccessRoutes(audited: Audited, search: ReturnType<typeof auditedSearch>, accounts: Accounts): RouteTable {
  return {
    adminFindUsers: async (req, res) => {
      res.json({ items: (await search(req)).map(adminAccountView) });
    },
    adminGetUser: async (req, res) => {
      res.json(adminAccountView(await audited(req, 'adminGetUser', (id) => accounts.getAccount('user', id))));
    },
    adminListUserSessions: async (req, res) => {
      const items = await audited(req, 'adminListUserSessions', async (id) => {
        await accounts.getAccount('user', id);
        return accounts.listSessions('user', id, '');
      });
      res.json({ items });
    },
    adminRevokeUserSessions: async (req, res) => {
      const revoked = await audited(req, 'adminRevokeUserSessions', async (id) => {
        await accounts.getAccount('user', id);
        return accounts.revokeAllSessions('user', id);
      });
      res.json({ revoked });
    },
    adminLockUser: async (req, res) => {
      const result = await audited(req, 'adminLockUser', (id) => accounts.setUserLocked(id, true));
      res.json({ id: String(req.params.userId), ...result });
    },
    adminUnlockUser: async (req, res) => {
      const result = await audited(req, 'adminUnlockUser', (id) => accounts.setUserLocked(id, false));
      res.json({ id: String(req.params.userId), ...result });
    },
  };
}
