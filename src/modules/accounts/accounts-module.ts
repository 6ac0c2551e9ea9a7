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
import type { AccountProfile } from './accounts-types.js';
import type { Request } from 'express';

export function registerAccounts(platform: Platform) {
  const { config, db, redis, fieldCipher, notifications } = platform;
  const sessionCache = config.session.cacheTtlMs > 0 ? createSessionCache<ResolvedSession>({ notifications, ttlMs: config.session.cacheTtlMs }) : undefined;
  // Every write that can change what a token resolves to is announced by the database
  // (session_change_notify), and a cached session is used only after the barrier that delivers it.
  const repo = createAccountsRepo(db);
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
  const accountByRequest = new WeakMap<Request, AccountProfile>();
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
