// Wires the privacy domain (data-subject requests) from the platform. It needs every other
// module's personalData provider, read lazily because the container lists modules after this.
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { AuditService } from '../audit/audit-service.js';
import { createPrivacyRepo } from './privacy-repo.js';
import { privacyRoutes } from './privacy-routes.js';
import { createPrivacyService } from './privacy-service.js';

export function registerPrivacy(platform: Platform, accounts: AccountsService, modules: () => ModuleRegistration[], audit: Pick<AuditService, 'record'>) {
  const repo = createPrivacyRepo(platform.db);
  // Re-authentication goes through the accounts service, under the login throttle's counters.
  const service = createPrivacyService({ repo, platform, accounts, modules });
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const registration: ModuleRegistration = {
    name: 'privacy',
    routes: privacyRoutes(service, platform, audit),
    personalData: {
      collections: [{
        name: 'requests',
        description: 'Your export and deletion requests: type, state, dates (never the export passphrase).',
        async *rows(userId) {
          for await (const r of repo.historyOf(userId)) {
            yield { id: r.id, type: r.type, state: r.state, createdAt: iso(r.createdAt), dueAt: iso(r.dueAt), scheduledFor: iso(r.scheduledFor), completedAt: iso(r.completedAt), cancelledAt: iso(r.cancelledAt), expiresAt: iso(r.expiresAt) };
          }
        },
      }],
    },
  };
  return { service, registration };
}
