// Picks the storage driver for each of the three stores kept apart: artifacts (uploaded files,
// exports), data backups and key-store backups. Each S3 store gets its own bucket.
import type { Config } from '../config.js';
import { createLocalStorage, type ArtifactStorage } from './storage.js';
import { createS3Storage } from './storage-s3.js';

export type StoreName = 'artifacts' | 'backups' | 'keystoreBackups';

export function createStorage(config: Pick<Config, 'storage' | 'artifactDir' | 'backup'>, store: StoreName): ArtifactStorage {
  const { s3 } = config.storage;
  const bucket = store === 'artifacts' ? (config.storage.driver === 's3' ? s3.bucket : undefined)
    : store === 'backups' ? s3.backupBucket : s3.keystoreBackupBucket;
  if (bucket) return createS3Storage({ bucket, region: s3.region, endpoint: s3.endpoint, forcePathStyle: s3.forcePathStyle });
  return createLocalStorage(store === 'artifacts' ? config.artifactDir : store === 'backups' ? config.backup.dir : config.backup.keystoreDir);
}
