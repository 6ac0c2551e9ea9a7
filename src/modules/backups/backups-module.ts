// Wires the backups domain from the platform. Backups get their own storage roots (data and key
// store apart), never the artifact storage, so access to exports does not grant access to backups.
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import { createStorage } from '../../platform/storage-factory.js';
import { createBackupsRepo } from './backups-repo.js';
import { backupsRoutes } from './backups-routes.js';
import { createBackupsService } from './backups-service.js';

export function registerBackups(platform: Platform) {
  const { config, db, signer, logger } = platform;
  const service = createBackupsService({
    repo: createBackupsRepo(db),
    storage: { data: createStorage(config, 'backups'), keystore: createStorage(config, 'keystoreBackups') },
    signer,
    databaseUrl: config.databaseUrl,
    passphrase: config.backup.passphrase,
    keep: config.backup.keep,
    keystoreRetentionDays: config.backup.keystoreRetentionDays,
    stalePartialHours: config.backup.stalePartialHours,
    leaseMs: config.jobLeaseMs,
    logger,
    masterKeyVersionsInUse: async () => [...(await platform.keyStore.countByVersion()).keys()],
  });
  const registration: ModuleRegistration = { name: 'backups', routes: backupsRoutes(service) };
  return { service, registration };
}
