// The rules of accounts: registration, login for users and staff, sessions, and resolving a
// bearer token to a principal.
import { randomUUID } from 'node:crypto';
import { DecryptionError } from '../../platform/crypto/aead.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { randomToken, sha256 } from '../../platform/crypto/hashing.js';
import type { Principal, StaffRole } from '../../platform/http/auth.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../../platform/http/problem.js';
import type { AccountsRepo } from './accounts-repo.js';
import type { Account, AccountKind, SessionData, SessionRecord, SessionView } from './accounts-types.js';
import type { LoginThrottle } from './login-throttle.js';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js';
import type { TwoFactorService } from './two-factor-service.js';
import type { createSessionPurge } from './session-purge.js';

type SessionPurge = ReturnType<typeof createSessionPurge>;

export const SESSION_TOKEN_PREFIX = 'cst_';

type Deps = {
  repo: AccountsRepo;
  fieldCipher: Pick<FieldCipher, 'encryptJson' | 'decryptJson'>;
  passwords: PasswordHasher;
  twoFactor: TwoFactorService;
  throttle: LoginThrottle;
  session: { ttlHours: number; idleMinutes: number };
  sessionPurge: SessionPurge;
};

export interface LoginInput {
  email: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
  ip: string;
  userAgent?: string;
}

export interface LoginResult {
  token: string;
  sessionId: string;
  expiresAt: Date;
  account: Account;
}

/** DecryptionError -> null; anything else (a database outage) still propagates. */
const rejectUnreadable = (error: unknown): null => {
  if (error instanceof DecryptionError) return null;
  throw error;
};
const sessionLocation = (sessionId: string) => ({ table: 'sessions', column: 'data_enc', rowId: sessionId });
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export function createAccountsService({ repo, fieldCipher, passwords, twoFactor, throttle, session, sessionPurge }: Deps) {
  async function startSession(account: Account, data: SessionData): Promise<LoginResult> {
    const id = randomUUID();
    const token = randomToken(SESSION_TOKEN_PREFIX);
    const expiresAt = new Date(Date.now() + session.ttlHours * 3600_000);
    await repo.insertSession({
      id,
      kind: account.kind,
      ownerId: account.id,
      tokenHash: sha256(token),
      dataEnc: await fieldCipher.encryptJson(account.id, sessionLocation(id), data),
      expiresAt,
    });
    return { token, sessionId: id, expiresAt, account };
  }

  async function readSessionData(record: SessionRecord): Promise<SessionData> {
    return fieldCipher.decryptJson<SessionData>(sessionLocation(record.id), record.dataEnc);
  }

  async function login(kind: AccountKind, input: LoginInput): Promise<LoginResult> {
    const email = normaliseEmail(input.email);
    await throttle.assertAllowed(kind, email, input.ip);
    const account = await repo.findByEmail(kind, email);
    const passwordOk = account ? await passwords.verify(input.password, account.passwordHash) : await passwords.burn(input.password);
    if (!account || !passwordOk || account.disabledAt) {
      await throttle.recordFailure(kind, email, input.ip);
      throw new UnauthorizedError('The email or password is wrong.');
    }
    let secondFactor;
    try {
      secondFactor = await twoFactor.verifyAtLogin(account, input.totp, input.recoveryCode);
    } catch (error) {
      if (!(error as { missing?: boolean }).missing) await throttle.recordFailure(kind, email, input.ip);
      throw error;
    }
    if (account.status === 'locked') throw new ForbiddenError('This account is locked. Contact support.');
    // 'pending_deletion' logs in, but its session only reaches the routes marked x-custos-allow-pending-deletion (cancel, status).
    await throttle.recordSuccess(kind, email);
    return startSession(account, { userAgent: input.userAgent?.slice(0, 512) ?? null, ip: input.ip, secondFactor });
  }

  return {
    async register(emailInput: string, password: string): Promise<Account> {
      const email = normaliseEmail(emailInput);
      const problems = checkPasswordPolicy(password, email);
      if (problems.length) throw new BadRequestError(`Choose a stronger password: it ${problems[0].message}.`, problems);
      const account = await repo.insertUser(email, await passwords.hash(password));
      if (!account) throw new ConflictError('An account with this email exists already; log in or reset your password.');
      return account;
    },

    loginUser: (input: LoginInput) => login('user', input),
    loginStaff: (input: LoginInput) => login('staff', input),

    async createStaff(emailInput: string, role: StaffRole, password: string): Promise<Account> {
      const email = normaliseEmail(emailInput);
      const problems = checkPasswordPolicy(password, email, 'password');
      if (problems.length) throw new BadRequestError(`Choose a stronger password: it ${problems[0].message}.`, problems);
      const account = await repo.insertStaff(email, role, await passwords.hash(password));
      if (!account) throw new ConflictError(`A staff member with email ${email} exists already.`);
      return account;
    },

    /** Bearer token -> principal of the given kind, or null. Session data is decrypted, so a tampered row fails closed. */
    async resolveSession(kind: AccountKind, token: string): Promise<Principal | null> {
      if (!token.startsWith(SESSION_TOKEN_PREFIX)) return null;
      const found = await repo.findLiveSessionWithOwner(kind, sha256(token), session.idleMinutes);
      if (!found || found.owner.disabled) return null;
      const { session: record, owner: account } = found;
      // Fail closed: a row whose ciphertext does not authenticate (moved, altered, shredded key) is no session.
      if (!(await readSessionData(record).catch(rejectUnreadable))) return null;
      if (found.touchDue) await repo.touchSession(record.id);
      if (kind === 'user') return { kind: 'user', userId: account.id, sessionId: record.id, email: account.email, pendingDeletion: account.status === 'pending_deletion' };
      return {
        kind: 'staff',
        staffId: account.id,
        sessionId: record.id,
        email: account.email,
        role: account.role!,
        totpConfirmed: account.totpConfirmed,
      };
    },

    async logout(kind: AccountKind, ownerId: string, sessionId: string): Promise<void> {
      await repo.revokeSession(kind, ownerId, sessionId);
    },

    async listSessions(kind: AccountKind, ownerId: string, currentSessionId: string): Promise<SessionView[]> {
      const records = await repo.listLiveSessions(kind, ownerId, session.idleMinutes);
      const views = await Promise.all(records.map(async (record): Promise<SessionView | null> => {
        const data = await readSessionData(record).catch(rejectUnreadable);
        // An unreadable session cannot be used (resolveSession refuses it), so it is not listed.
        if (!data) return null;
        return {
          id: record.id,
          ...data,
          createdAt: record.createdAt.toISOString(),
          lastSeenAt: record.lastSeenAt.toISOString(),
          expiresAt: record.expiresAt.toISOString(),
          current: record.id === currentSessionId,
        };
      }));
      return views.filter((view): view is SessionView => view !== null);
    },

    async revokeSession(kind: AccountKind, ownerId: string, sessionId: string): Promise<void> {
      if (!(await repo.revokeSession(kind, ownerId, sessionId))) throw new NotFoundError('No such live session.');
    },

    revokeOtherSessions: (kind: AccountKind, ownerId: string, currentSessionId: string) => repo.revokeAllSessions(kind, ownerId, currentSessionId),
    revokeAllSessions: (kind: AccountKind, ownerId: string) => repo.revokeAllSessions(kind, ownerId),

    /**
     * Staff lock or unlock (the audit module records it). Locking also ends every session, since
     * only login checks the status. An account pending deletion keeps that status.
     */
    async setUserLocked(userId: string, locked: boolean): Promise<{ status: 'active' | 'locked'; revokedSessions: number }> {
      const account = await this.getAccount('user', userId);
      const status = await repo.setUserLocked(userId, locked);
      if (!status) throw new ConflictError(`This account is ${account.status?.replace('_', ' ')}; it cannot be ${locked ? 'locked' : 'unlocked'}.`);
      return { status, revokedSessions: locked ? await repo.revokeAllSessions('user', userId) : 0 };
    },

    async getAccount(kind: AccountKind, id: string): Promise<Account> {
      const account = await repo.findById(kind, id);
      if (!account) throw new NotFoundError('No such account.');
      return account;
    },

    async verifyPassword(account: Account, password: string): Promise<void> {
      if (!(await passwords.verify(password, account.passwordHash))) throw new UnauthorizedError('The password is wrong.');
    },

    /** Re-authentication for sensitive actions (export, deletion): password, plus a code when 2FA is on. */
    async reauthenticate(kind: AccountKind, id: string, password: string, totp?: string, recoveryCode?: string): Promise<Account> {
      const account = await this.getAccount(kind, id);
      await this.verifyPassword(account, password);
      await twoFactor.verifyAtLogin(account, totp, recoveryCode);
      return account;
    },

    twoFactor,
    listStaff: () => repo.listStaff(),
    findAccountByEmail: (kind: AccountKind, email: string) => repo.findByEmail(kind, normaliseEmail(email)),
    /** The scheduled purge of dead sessions (jobs/accounts.ts). */
    purgeDeadSessions: () => sessionPurge.purgeDeadSessions(),
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
