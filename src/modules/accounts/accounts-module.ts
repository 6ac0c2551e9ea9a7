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

export function registerAccounts(platform: Platform) {
  const { config, db, redis, fieldCipher } = platform;
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
  });
  const resolveStaff = (token: string) => service.resolveSession('staff', token);
  const registration: ModuleRegistration = {
    name: 'accounts',
    routes: accountsRoutes(service),
    schemes: {
      userSession: (token) => service.resolveSession('user', token),
      staffSession: resolveStaff,
      staffEnrolment: resolveStaff,
    },
    personalData: accountsPersonalData({ repo, fieldCipher }),
  };
  return { service, registration };
}
