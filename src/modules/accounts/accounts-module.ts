// Wires the accounts domain from the platform: one register function per module.
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import { createAccountsRepo } from './accounts-repo.js';
import { accountsRoutes } from './accounts-routes.js';
import { createAccountsService } from './accounts-service.js';
import { createLoginThrottle } from './login-throttle.js';
import { createPasswordHasher } from './passwords.js';
import { createRegistrationLimit } from './registration-limit.js';
import { createTwoFactorService } from './two-factor-service.js';
import { accountsPersonalData } from './accounts-personal-data.js';
import { createSessionPurge } from './session-purge.js';
import { createSessionCache } from './session-cache.js';
import type { ResolvedSession } from './accounts-service.js';
import type { Account } from './accounts-types.js';
import type { Request } from 'express';

export function registerAccounts(platform: Platform) {
  const { config, db, redis, fieldCipher, notifications } = platform;
  const sessionCache = config.session.cacheTtlMs > 0 ? createSessionCache<ResolvedSession>({ notifications, ttlMs: config.session.cacheTtlMs }) : undefined;
  const repo = evictingWrites(createAccountsRepo(db), (ownerId) => sessionCache?.evictOwner(ownerId));
  const twoFactor = createTwoFactorService({ repo, fieldCipher, pepper: config.apiKeyPepper, issuer: config.totpIssuer });
  const service = createAccountsService({
    repo,
    fieldCipher,
    passwords: createPasswordHasher(config.bcryptCost),
    twoFactor,
    throttle: createLoginThrottle(redis, config.queuePrefix, config.loginLimits),
    registrationLimit: createRegistrationLimit(redis, config.queuePrefix, config.registrationLimits),
    session: config.session,
    sessionPurge: createSessionPurge({ repo, session: config.session }),
    sessionCache,
  });
  // The owner's row read with the session, for this request only (GET /me answers from it).
  const accountByRequest = new WeakMap<Request, Account>();
  const resolveStaff = (token: string) => service.resolveSession('staff', token);
  const registration: ModuleRegistration = {
    name: 'accounts',
    routes: accountsRoutes(service, (req) => accountByRequest.get(req)),
    schemes: {
      userSession: async (token, req) => {
        const resolved = await service.resolveSessionWithAccount('user', token);
        if (!resolved) return null;
        accountByRequest.set(req, resolved.account);
        return resolved.principal;
      },
      staffSession: resolveStaff,
      staffEnrolment: resolveStaff,
    },
    personalData: accountsPersonalData({ repo, fieldCipher }),
  };
  return { service, registration };
}

type Repo = ReturnType<typeof createAccountsRepo>;
/**
 * The repository, with each write that can change what a token resolves to evicting the owner's
 * cached sessions in this process as soon as it returns. Other processes (and this one, again)
 * learn of it from the database's notification; this only spares this process the wait.
 */
function evictingWrites(repo: Repo, evict: (ownerId: string) => void): Repo {
  const after = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, owner: (...args: A) => string) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } finally {
        evict(owner(...args));
      }
    };
  return {
    ...repo,
    revokeSession: after(repo.revokeSession, (_kind, ownerId) => ownerId),
    revokeAllSessions: after(repo.revokeAllSessions, (_kind, ownerId) => ownerId),
    setUserLocked: after(repo.setUserLocked, (userId) => userId),
    addSessionFactor: after(repo.addSessionFactor, (_kind, ownerId) => ownerId),
    setTotpSecret: after(repo.setTotpSecret, (_kind, id) => id),
    claimTotpStep: after(repo.claimTotpStep, (_kind, id) => id),
    clearTotp: after(repo.clearTotp, (_kind, id) => id),
  };
}
