// The backups domain's types: a run's durable record, its signed manifest, and results.
export type BackupKind = 'data' | 'keystore';
export type BackupStatus = 'running' | 'succeeded' | 'failed' | 'deleted';

export interface BackupRun {
  id: string;
  kind: BackupKind;
  status: BackupStatus;
  scheduledFor: string | null;
  storageKey: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  sizeBytes: number | null;
  plaintextBytes: number | null;
  plaintextSha256: string | null;
  ciphertextSha256: string | null;
  error: string | null;
  verifiedAt: Date | null;
  verifyStatus: 'passed' | 'failed' | null;
  verifyError: string | null;
  verifyDurationMs: number | null;
  /** Files removed (status 'deleted' for pruned backups; a failed run keeps its status). */
  deletedAt: Date | null;
  /** The worker running (or that last ran) the backup, and until when its lease holds. */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

/** Written next to each backup file and signed (Ed25519), so a swapped or truncated file is detected. */
export interface BackupManifest {
  format: 'custos-backup/1';
  id: string;
  kind: BackupKind;
  file: string;
  createdAt: string;
  finishedAt: string;
  encryption: { format: 'openssl-enc'; cipher: 'aes-256-cbc'; kdf: 'pbkdf2-hmac-sha256'; iterations: number };
  plaintext: { size: number; sha256: string };
  ciphertext: { size: number; sha256: string };
  postgres: { serverVersion: string; database: string };
  schemaVersion: string | null;
  /** Rows per table in the exported snapshot (the same snapshot pg_dump read). */
  rowCounts: Record<string, number>;
  /**
   * Key-store backups: the master-key versions wrapping the data keys it holds (read before and
   * after the dump, so a rotation running meanwhile is covered). Restoring it needs every one of
   * them configured; absent in backups taken before this was recorded.
   */
  masterKeyVersions?: number[];
}

export interface SignedManifest {
  manifest: BackupManifest;
  /** Base64 Ed25519 signature over the canonical JSON of `manifest`. */
  signature: string;
  publicKeyPem: string;
}

export interface VerifyResult {
  run: BackupRun;
  ok: boolean;
  durationMs: number;
  tables: Array<{ table: string; expected: number; restored: number | null }>;
  error?: string;
}

export interface PruneResult {
  kept: BackupRun[];
  deleted: BackupRun[];
  /** Failed or interrupted runs whose leftover files were removed (the rows stay failed). */
  failedCleaned: BackupRun[];
  /** Files removed with no run to account for them: key-store files past the window, stale *.partial files. */
  sweptFiles: Array<{ kind: BackupKind; key: string }>;
}
