// The rules of accounts: registration, login for users and staff, sessions, and resolving a
// bearer token to a principal.
import { randomUUID } from 'node:crypto';
import { DecryptionError } from '../../platform/crypto/aead.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { randomToken, sha256 } from '../../platform/crypto/hashing.js';
import type { Principal, StaffRole } from '../../platform/http/auth.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../../platform/http/problem.js';
import type { AccountsRepo } from './accounts-repo.js';
import type { Account, AccountKind, AccountProfile, SecondFactor, SessionData, SessionFactor, SessionRecord, SessionView } from './accounts-types.js';
import type { LoginThrottle } from './login-throttle.js';
import type { RegistrationLimit } from './registration-limit.js';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.js';
import { SecondFactorError, type TwoFactorService } from './two-factor-service.js';
import type { createSessionPurge } from './session-purge.js';
import type { SessionCache } from './session-cache.js';

type SessionPurge = ReturnType<typeof createSessionPurge>;

export const SESSION_TOKEN_PREFIX = 'cst_';

type Deps = {
  repo: AccountsRepo;
  fieldCipher: Pick<FieldCipher, 'encryptJson' | 'decryptJson'>;
  passwords: PasswordHasher;
  twoFactor: TwoFactorService;
  throttle: LoginThrottle;
  registrationLimit: RegistrationLimit;
  session: { ttlHours: number; idleMinutes: number };
  sessionPurge: SessionPurge;
  /** Resolutions kept for a few seconds (session-cache.ts); absent: every request reads the database. */
  sessionCache?: SessionCache<ResolvedSession>;
};

/** A bearer token resolved: the principal auth.ts decides on, and the owner's row read with it. */
export interface ResolvedSession {
  principal: Principal;
  account: AccountProfile;
}

export interface LoginInput {
  email: string;
  password: string;
  totp?: string;
  recoveryCode?: string;
  ip: string;
  userAgent?: string;
}

/** What a signed-in user sends again to prove it is them. */
export interface Credentials {
  password: string;
  totp?: string;
  recoveryCode?: string;
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
const sessionKey = (kind: AccountKind, tokenHash: Buffer) => `${kind}:${tokenHash.toString('base64')}`;
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

export function createAccountsService({ repo, fieldCipher, passwords, twoFactor, throttle, registrationLimit, session, sessionPurge, sessionCache }: Deps) {
  async function startSession(account: Account, data: SessionData, factors: SessionFactor[]): Promise<LoginResult> {
    const id = randomUUID();
    const token = randomToken(SESSION_TOKEN_PREFIX);
    const expiresAt = new Date(Date.now() + session.ttlHours * 3600_000);
    await repo.insertSession({
      id,
      kind: account.kind,
      ownerId: account.id,
      tokenHash: sha256(token),
      dataEnc: await fieldCipher.encryptJson(account.id, sessionLocation(id), data),
      factors,
      expiresAt,
    });
    return { token, sessionId: id, expiresAt, account };
  }

  async function readSessionData(record: SessionRecord): Promise<SessionData> {
    return fieldCipher.decryptJson<SessionData>(sessionLocation(record.id), record.dataEnc);
  }

  async function login(kind: AccountKind, input: LoginInput): Promise<LoginResult> {
    const email = normaliseEmail(input.email);
    return throttle.guard({ kind, email }, input.ip, async () => {
      const account = await repo.findByEmail(kind, email);
      const passwordOk = account ? await passwords.verify(input.password, account.passwordHash) : await passwords.burn(input.password);
      if (!account || !passwordOk || account.disabledAt) throw new UnauthorizedError('The email or password is wrong.');
      const secondFactor = await twoFactor.verifyAtLogin(account, input.totp, input.recoveryCode);
      if (account.status === 'locked') throw new ForbiddenError('This account is locked. Contact support.');
      // 'pending_deletion' logs in, but its session only reaches the routes marked x-custos-allow-pending-deletion (cancel, status).
      const factors: SessionFactor[] = secondFactor === 'none' ? ['password'] : ['password', secondFactor];
      return startSession(account, { userAgent: input.userAgent?.slice(0, 512) ?? null, ip: input.ip, secondFactor }, factors);
    });
  }

  /**
   * Password (+ second factor) of a signed-in account, under the login throttle's per-account
   * counter. Whether a code is needed is no secret to the session's owner, so that is answered
   * before the password is checked: no answer depends on the password but 401 versus success,
   * and a wrong password reads the same as a wrong code.
   */
  async function verifyCredentials(account: Account, credentials: Credentials, ip: string): Promise<SecondFactor> {
    const { password, totp, recoveryCode } = credentials;
    if (account.totpConfirmedAt && !totp && !recoveryCode) {
      throw new SecondFactorError('Two-factor authentication is on: send `totp` (or a `recoveryCode`) with the password.', true);
    }
    const wrong = account.totpConfirmedAt ? 'The password or the code is wrong (each code works once).' : 'The password is wrong.';
    return throttle.guard({ kind: account.kind, email: account.email }, ip, async () => {
      if (!(await passwords.verify(password, account.passwordHash))) throw new UnauthorizedError(wrong);
      try {
        return await twoFactor.verifyAtLogin(account, totp, recoveryCode);
      } catch (error) {
        if (error instanceof SecondFactorError) throw new UnauthorizedError(wrong);
        throw error;
      }
    });
  }

  /** resolveSession, with the owner's row as read in the same lookup (GET /me answers from it). */
  async function resolveSessionWithAccount(kind: AccountKind, token: string): Promise<ResolvedSession | null> {
    if (!token.startsWith(SESSION_TOKEN_PREFIX)) return null;
    const tokenHash = sha256(token);
    const key = sessionKey(kind, tokenHash);
    const hit = await sessionCache?.get(key);
    if (hit) return { principal: { ...hit.principal }, account: hit.account };
    const since = sessionCache?.generation() ?? 0;
    const found = await repo.findLiveSessionWithOwner(kind, tokenHash, session.idleMinutes);
    if (!found || found.owner.disabled) return null;
    const { session: record, owner } = found;
    // The secrets stay out of the cache and out of the request: nothing downstream needs them.
    const { passwordHash: _hash, totpSecretEnc: _secret, totpLastStep: _step, ...account } = found.account;
    // Fail closed: a row whose ciphertext does not authenticate (moved, altered, shredded key) is no session.
    if (!(await readSessionData(record).catch(rejectUnreadable))) return null;
    if (found.touchDue) await repo.touchSession(record.id);
    // auth.ts decides what a session without a second factor may reach.
    const secondFactorProved = record.factors.some((factor) => factor !== 'password');
    const principal: Principal = kind === 'user'
      ? {
        kind: 'user',
        userId: owner.id,
        sessionId: record.id,
        email: owner.email,
        pendingDeletion: owner.status === 'pending_deletion',
        twoFactorEnabled: owner.totpConfirmed,
        secondFactorProved,
      }
      : {
        kind: 'staff',
        staffId: owner.id,
        sessionId: record.id,
        email: owner.email,
        role: owner.role!,
        totpConfirmed: owner.totpConfirmed,
        secondFactorProved,
      };
    sessionCache?.set(key, owner.id, { principal: { ...principal }, account }, since, found.liveMs);
    return { principal, account };
  }

  return {
    /**
     * The explicit 409 for a taken email is kept for usability; the per-IP and per-email limit
     * (taken after the password policy, so fixing a weak password costs nothing) bounds how fast
     * anyone can ask it, and how many bcrypt hashes they can make us compute. `ip` is absent only
     * for operator code (seed, benchmarks), which is not limited.
     */
    async register(emailInput: string, password: string, ip?: string): Promise<Account> {
      const email = normaliseEmail(emailInput);
      const problems = checkPasswordPolicy(password, email);
      if (problems.length) throw new BadRequestError(`Choose a stronger password: it ${problems[0].message}.`, problems);
      if (ip !== undefined) await registrationLimit.take(email, ip);
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
      return (await resolveSessionWithAccount(kind, token))?.principal ?? null;
    },

    resolveSessionWithAccount,
    /** Whether this process holds a live resolution of `token` (tests' view of the cache). */
    isSessionCached: (kind: AccountKind, token: string) => sessionCache?.has(sessionKey(kind, sha256(token))) ?? false,

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

    /** Re-authentication for sensitive actions (export, deletion): password, plus a code when 2FA is on. */
    async reauthenticate(kind: AccountKind, id: string, credentials: Credentials, ip: string): Promise<Account> {
      const account = await this.getAccount(kind, id);
      await verifyCredentials(account, credentials, ip);
      return account;
    },

    /**
     * DELETE …/2fa/totp. "Not enabled" is answered before the password is looked at, so a 409
     * never confirms a guessed password (issue 12: 30 wrong passwords, then 409).
     */
    async disableTotp(kind: AccountKind, id: string, credentials: Credentials, ip: string, currentSessionId: string): Promise<void> {
      const account = await this.getAccount(kind, id);
      if (!account.totpConfirmedAt) throw new ConflictError('TOTP is not enabled.');
      await verifyCredentials(account, credentials, ip);
      await twoFactor.disable(account);
      // A change of factors ends every other session: each was opened under the old rules.
      await repo.revokeAllSessions(kind, id, currentSessionId);
    },

    /** Confirms TOTP enrolment with a first code, under the throttle: a wrong code (400) is a guess. */
    async confirmTotp(kind: AccountKind, id: string, code: string, ip: string, currentSessionId: string): Promise<{ recoveryCodes: string[] }> {
      const account = await this.getAccount(kind, id);
      const confirmed = await throttle.guard({ kind, email: account.email }, ip, () => twoFactor.confirm(account, code), (error) => error instanceof BadRequestError);
      // This session just presented a code; every other one proved only the password, so it
      // ends (and auth.ts would refuse it anyway): confirming elsewhere grants no old session.
      await repo.addSessionFactor(kind, id, currentSessionId, 'totp');
      await repo.revokeAllSessions(kind, id, currentSessionId);
      return confirmed;
    },

    twoFactor,
    listStaff: () => repo.listStaff(),
    findAccountByEmail: (kind: AccountKind, email: string) => repo.findByEmail(kind, normaliseEmail(email)),
    /** Staff lookup: exact match after registration's normalisation; none is an empty list. */
    async findUsersByEmail(email: string): Promise<Account[]> {
      const account = await repo.findByEmail('user', normaliseEmail(email));
      return account ? [account] : [];
    },
    /** The scheduled purge of dead sessions (jobs/accounts.ts). */
    purgeDeadSessions: () => sessionPurge.purgeDeadSessions(),
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
