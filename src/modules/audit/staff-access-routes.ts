// Staff support tools under /api/v1/admin/users/{userId}/…: every handler goes through
// `audited`, which writes the event (staff, reason, justification, what) and awaits its commit
// before the read or change runs. If the write fails, the request fails: nothing is returned
// that the trail does not show (fail closed).
import type { Request } from 'express';
import { requireStaff } from '../../platform/http/auth.js';
import { BadRequestError, toProblem } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import { requestContext, type AuditService } from './audit-service.js';
import { ACCESS_REASONS, type AccessReason } from './audit-types.js';

/** operationId -> the action recorded, and what kind of resource it touches. */
export const STAFF_ACCESS_ACTIONS: Record<string, { action: string; resourceType: string }> = {
  adminGetUser: { action: 'admin.user.read', resourceType: 'account' },
  adminListUserSessions: { action: 'admin.user.sessions.read', resourceType: 'sessions' },
  adminRevokeUserSessions: { action: 'admin.user.sessions.revoke', resourceType: 'sessions' },
};

export function accessReason(req: Request): { reason: AccessReason; justification: string } | { problem: string } {
  const reason = req.get('x-access-reason');
  const justification = req.get('x-access-justification')?.trim();
  if (!reason || !(ACCESS_REASONS as readonly string[]).includes(reason)) {
    return { problem: `Send X-Access-Reason with one of ${ACCESS_REASONS.join(', ')}.` };
  }
  if (!justification || justification.length > 500) return { problem: 'Send X-Access-Justification: a ticket reference or explanation of 1–500 characters.' };
  return { reason: reason as AccessReason, justification };
}

type Accounts = Pick<AccountsService, 'getAccount' | 'listSessions' | 'revokeAllSessions'>;

export function staffAccessRoutes(audit: Pick<AuditService, 'record'>, accounts: Accounts): RouteTable {
  async function audited<T>(req: Request, operationId: string, work: (userId: string) => Promise<T>): Promise<T> {
    const staff = requireStaff(req);
    const userId = String(req.params.userId);
    const { action, resourceType } = STAFF_ACCESS_ACTIONS[operationId];
    const base = {
      actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role },
      action,
      subjectUserId: userId,
      resourceType,
      resourceIds: [userId],
      ...requestContext(req),
    };
    const stated = accessReason(req);
    if ('problem' in stated) {
      // The validator rejects these first; kept so the rule holds even without it.
      await audit.record({ ...base, outcome: 'denied', detail: `invalid request: ${stated.problem}` });
      throw new BadRequestError(stated.problem);
    }
    await audit.record({ ...base, ...stated, outcome: 'allowed' });
    try {
      return await work(userId);
    } catch (error) {
      const { problem } = toProblem(error);
      await audit.record({ ...base, ...stated, outcome: 'failed', detail: `${problem.status} ${problem.title}` }).catch(() => {});
      throw error;
    }
  }

  return {
    adminGetUser: async (req, res) => {
      const account = await audited(req, 'adminGetUser', (id) => accounts.getAccount('user', id));
      res.json({
        id: account.id,
        email: account.email,
        status: account.status!,
        createdAt: account.createdAt.toISOString(),
        twoFactor: { totp: Boolean(account.totpConfirmedAt) },
      });
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
  };
}
