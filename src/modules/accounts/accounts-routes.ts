// Handlers keyed by operationId: parse, call the service, respond.
import type { Request } from 'express';
import { requireStaff, requireUser } from '../../platform/http/auth.js';
import type { RouteTable } from '../../platform/platform.js';
import type { Account, AccountProfile } from './accounts-types.js';
import type { AccountsService, LoginResult } from './accounts-service.js';

const clientIp = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';
const loginInput = (req: Request) => ({
  email: req.body.email,
  password: req.body.password,
  totp: req.body.totp,
  recoveryCode: req.body.recoveryCode,
  ip: clientIp(req),
  userAgent: req.get('user-agent'),
});
const credentials = (req: Request) => ({ password: req.body.password, totp: req.body.totp, recoveryCode: req.body.recoveryCode });
const sessionBody = (result: LoginResult) => ({ token: result.token, sessionId: result.sessionId, expiresAt: result.expiresAt.toISOString() });

/** `sessionAccount`: the owner's row as authentication read it for this request, if it did. */
export function accountsRoutes(accounts: AccountsService, sessionAccount: (req: Request) => AccountProfile | undefined = () => undefined): RouteTable {
  const userView = async (account: AccountProfile) => ({
    id: account.id,
    email: account.email,
    status: account.status!,
    createdAt: account.createdAt.toISOString(),
    twoFactor: {
      totp: Boolean(account.totpConfirmedAt),
      recoveryCodesRemaining: account.totpConfirmedAt ? await accounts.twoFactor.remainingRecoveryCodes(account) : 0,
    },
  });
  const staffView = (account: Account) => ({
    id: account.id,
    email: account.email,
    role: account.role!,
    totpConfirmed: Boolean(account.totpConfirmedAt),
    createdAt: account.createdAt.toISOString(),
  });

  return {
    registerUser: async (req, res) => {
      const account = await accounts.register(req.body.email, req.body.password, clientIp(req));
      res.status(201).json(await userView(account));
    },
    loginUser: async (req, res) => {
      res.json(sessionBody(await accounts.loginUser(loginInput(req))));
    },
    logoutUser: async (req, res) => {
      const user = requireUser(req);
      await accounts.logout('user', user.userId, user.sessionId);
      res.status(204).end();
    },
    getMe: async (req, res) => {
      const { userId } = requireUser(req);
      const read = sessionAccount(req);
      res.json(await userView(read?.id === userId ? read : await accounts.getAccount('user', userId)));
    },
    listMySessions: async (req, res) => {
      const user = requireUser(req);
      res.json({ items: await accounts.listSessions('user', user.userId, user.sessionId) });
    },
    revokeMySession: async (req, res) => {
      const user = requireUser(req);
      await accounts.revokeSession('user', user.userId, String(req.params.sessionId));
      res.status(204).end();
    },
    revokeMyOtherSessions: async (req, res) => {
      const user = requireUser(req);
      res.json({ revoked: await accounts.revokeOtherSessions('user', user.userId, user.sessionId) });
    },
    enrolMyTotp: async (req, res) => {
      const account = await accounts.getAccount('user', requireUser(req).userId);
      res.status(201).json(await accounts.twoFactor.enrol(account));
    },
    confirmMyTotp: async (req, res) => {
      const user = requireUser(req);
      res.json(await accounts.confirmTotp('user', user.userId, req.body.code, clientIp(req), user.sessionId));
    },
    disableMyTotp: async (req, res) => {
      const user = requireUser(req);
      await accounts.disableTotp('user', user.userId, credentials(req), clientIp(req), user.sessionId);
      res.status(204).end();
    },

    loginStaff: async (req, res) => {
      const result = await accounts.loginStaff(loginInput(req));
      res.json({ ...sessionBody(result), totpEnrolmentRequired: !result.account.totpConfirmedAt });
    },
    logoutStaff: async (req, res) => {
      const staff = requireStaff(req);
      await accounts.logout('staff', staff.staffId, staff.sessionId);
      res.status(204).end();
    },
    getStaffMe: async (req, res) => {
      res.json(staffView(await accounts.getAccount('staff', requireStaff(req).staffId)));
    },
    enrolStaffTotp: async (req, res) => {
      const account = await accounts.getAccount('staff', requireStaff(req).staffId);
      res.status(201).json(await accounts.twoFactor.enrol(account));
    },
    confirmStaffTotp: async (req, res) => {
      const staff = requireStaff(req);
      res.json(await accounts.confirmTotp('staff', staff.staffId, req.body.code, clientIp(req), staff.sessionId));
    },
  };
}
