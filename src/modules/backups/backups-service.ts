// The backups domain's rules: encrypted dumps (data and key store kept apart), their durable
// record and signed manifest, retention, and the nightly run. The reading side (verify, restore,
// decrypt) lives in backups-restore.ts.
import { pipeline } from 'node:stream/promises';
import { createOpenSslEncryptor, OPENSSL_ITERATIONS } from '../../platform/crypto/openssl-enc.js';
import type { Signer } from '../../platform/crypto/signing.js';
import type { Logger } from '../../platform/logger.js';
import type { ArtifactStorage } from '../../platform/storage.js';
import { keepLeaseAlive, newLeaseOwner } from '../../platform/lease.js';
import type { BackupLease, BackupsRepo } from './backups-repo.js';
import type { BackupKind, BackupManifest, BackupRun, PruneResult, VerifyResult } from './backups-types.js';
import { manifestKeyOf, readVerifiedManifest, signManifest, writeManifest } from './manifest.js';
import { databaseName, startPgDump } from './pg-tools.js';
import { createBackupReader } from './backups-restore.js';
import { selectRetained, type RetentionPolicy } from './retention.js';

/** A failure an operator can act on; its message is shown as is (no stack trace). */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Progress reporting, shaped like the CLI's ctx.progress so the service does not know about terminals. */
export type ProgressFactory = (label: string, total: number) => { increment(n?: number): void; setTotal(n: number): void; stop(): void };

export interface BackupsDeps {
  repo: BackupsRepo;
  /** Data backups and key-store backups live in different places (and may be different media). */
  storage: Record<BackupKind, ArtifactStorage>;
  signer: Pick<Signer, 'sign' | 'verify' | 'publicKeyPem'>;
  databaseUrl: string;
  passphrase?: string;
  keep: RetentionPolicy;
  keystoreRetentionDays: number;
  /** Unfinished files (*.partial) older than this are swept by prune; a running backup's never is. */
  stalePartialHours: number;
  /** Lease of the worker on a running backup (CUSTOS_JOB_LEASE_MS). */
  leaseMs: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Master-key versions wrapping data keys right now (recorded in key-store backup manifests). */
  masterKeyVersionsInUse?: () => Promise<number[]>;
}

/** A retained key-store backup that cannot be restored without a given master-key version. */
export interface KeyNeed {
  run: BackupRun;
  /** When retention deletes it (startedAt + CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS). */
  expiresAt: Date;
  /** Why it needs the key: the recorded versions, or that they are unknown (assumed needed). */
  because: string;
}

export type BackupRef = { id: string } | { latest: BackupKind };

export const MISSING_PASSPHRASE =
  'CUSTOS_BACKUP_PASSPHRASE (or CUSTOS_BACKUP_PASSPHRASE_FILE) is not set: refusing to back up, verify, restore or decrypt without the backup passphrase';

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createBackupsService(deps: BackupsDeps) {
  const { repo, storage, signer, databaseUrl, logger } = deps;

  /** Fail closed: no passphrase, no backup operation at all (not even a row in backup_runs). */
  const requirePassphrase = (): string => {
    if (!deps.passphrase) throw new BackupError(MISSING_PASSPHRASE);
    return deps.passphrase;
  };

  const reader = createBackupReader({ ...deps, requirePassphrase, BackupError });

  async function run(options: { kind?: BackupKind; scheduledFor?: string; progress?: ProgressFactory } = {}): Promise<BackupRun> {
    const passphrase = requirePassphrase();
    const kind = options.kind ?? 'data';
    const lease: BackupLease = { owner: newLeaseOwner(), ms: deps.leaseMs };
    const started = await repo.insertRun({ kind, scheduledFor: options.scheduledFor, lease });
    // Renewed while pg_dump runs: a retry of the same night waits for it instead of running beside it.
    const held = keepLeaseAlive(lease.owner, `backup ${started.id}`, lease.ms, () => repo.renewLease(started.id, lease));
    const fileKey = `${kind}-${stamp(started.startedAt)}-${started.id}.dump.enc`;
    await repo.setStorageKey(started.id, fileKey);
    const store = storage[kind];
    let published = false;
    const versionsBefore = kind === 'keystore' ? await deps.masterKeyVersionsInUse?.() : undefined;
    try {
      await repo.withExportedSnapshot(kind, async (snapshot, rowCounts) => {
        // Derive the key before pg_dump starts: Node discards a child's unread stdout when it exits,
        // so nothing may be awaited between spawning pg_dump and piping its output.
        const encryptor = await createOpenSslEncryptor(passphrase);
        const bar = options.progress?.(`pg_dump ${kind} (tables)`, Object.keys(rowCounts).length);
        // The key store is dumped apart (its own file, place and retention); the data dump leaves it out.
        const scope = kind === 'data' ? '--exclude-schema=keystore' : '--schema=keystore';
        const dump = startPgDump(databaseUrl, ['--verbose', `--snapshot=${snapshot}`, scope], (line) => {
          if (/dumping contents of table/.test(line)) bar?.increment();
        });
        // pg_dump -> gate (fails unless pg_dump exits 0) -> AES-256-CBC -> storage (temp name, atomic rename).
        // The plaintext exists only in these pipes' buffers, never on disk.
        const [size] = await Promise.all([store.put(fileKey, encryptor), pipeline(dump.stdout, dump.gate(), encryptor), dump.done]);
        published = true;
        bar?.stop();
        const digests = encryptor.digests();
        if (digests.ciphertext.size !== size) throw new BackupError(`stored ${size} bytes but encrypted ${digests.ciphertext.size}`);
        if (digests.plaintext.size === 0) throw new BackupError('pg_dump produced no output');
        const finishedAt = new Date();
        const manifest: BackupManifest = {
          format: 'custos-backup/1',
          id: started.id,
          kind,
          file: fileKey,
          createdAt: started.startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          encryption: { format: 'openssl-enc', cipher: 'aes-256-cbc', kdf: 'pbkdf2-hmac-sha256', iterations: OPENSSL_ITERATIONS },
          plaintext: digests.plaintext,
          ciphertext: digests.ciphertext,
          postgres: { serverVersion: await repo.serverVersion(), database: databaseName(databaseUrl) },
          schemaVersion: await repo.schemaVersion(),
          rowCounts,
          ...(versionsBefore ? { masterKeyVersions: [...new Set([...versionsBefore, ...(await deps.masterKeyVersionsInUse!())])].sort((a, b) => a - b) } : {}),
        };
        await writeManifest(store, signManifest(signer, manifest));
        const recorded = await repo.markSucceeded(started.id, lease, {
          sizeBytes: size,
          plaintextBytes: digests.plaintext.size,
          plaintextSha256: digests.plaintext.sha256,
          ciphertextSha256: digests.ciphertext.sha256,
          finishedAt,
        });
        if (!recorded) throw new BackupError(`backup ${started.id} lost its lease (its worker stalled and the run was marked interrupted); its files are removed`);
      });
    } catch (error) {
      // A file without a manifest (or a row that says failed) must not look like a usable backup.
      if (published) await Promise.allSettled([store.delete(fileKey), store.delete(manifestKeyOf(fileKey))]);
      await repo.markFailed(started.id, message(error)).catch(() => {});
      logger.error({ backupRunId: started.id, kind, err: { message: message(error) } }, 'backup failed');
      throw error instanceof BackupError ? error : new BackupError(`backup ${started.id} failed: ${message(error)}`);
    } finally {
      held.stop();
    }
    logger.info({ backupRunId: started.id, kind }, 'backup succeeded');
    return (await repo.findRun(started.id))!;
  }

  async function deleteFiles(run: BackupRun) {
    if (!run.storageKey) return;
    const store = storage[run.kind];
    await store.delete(run.storageKey);
    await store.delete(manifestKeyOf(run.storageKey));
    // The run's own unfinished file (pg_dump cut short, worker killed): `<key>.<uuid>.partial`.
    for (const object of await store.list(run.storageKey, { includePartials: true })) await store.delete(object.key);
  }

  async function deleteBackup(run: BackupRun) {
    await deleteFiles(run);
    await repo.markDeleted(run.id);
  }

  /**
   * Data backups: grandfather-father-son (daily/weekly/monthly). Key-store backups: everything
   * older than the key-store window goes, with no exception — that deadline is what lets
   * crypto-shredding reach the data backups kept for months. So, whatever a run's status:
   * - a 'running' run whose worker's lease expired is interrupted: marked failed;
   * - a failed run's leftover files (published file, manifest, *.partial) are removed;
   * - any key-store file older than the window goes, even one no run row accounts for;
   * - unfinished files (*.partial) older than CUSTOS_BACKUP_STALE_PARTIAL_HOURS go from both
   *   folders (a running backup writes to its own all the time, so it is never that old).
   */
  async function prune(options: { now?: Date } = {}): Promise<PruneResult> {
    const now = options.now ?? new Date();
    const everyRun = 1_000_000;
    for (const run of await repo.listRuns({ status: 'running', limit: everyRun })) await repo.markInterrupted(run.id);
    const failedCleaned = await repo.listRuns({ status: 'failed', filesLeft: true, limit: everyRun });
    for (const run of failedCleaned) {
      await deleteFiles(run);
      await repo.markFilesDeleted(run.id);
    }

    const data = await repo.listRuns({ kind: 'data', status: 'succeeded', limit: everyRun });
    const retained = selectRetained(data, deps.keep);
    const keystore = await repo.listRuns({ kind: 'keystore', status: 'succeeded', limit: everyRun });
    const cutoff = now.getTime() - deps.keystoreRetentionDays * 86_400_000;
    const result: PruneResult = { kept: [], deleted: [], failedCleaned, sweptFiles: [] };
    for (const run of data) (retained.has(run.id) ? result.kept : result.deleted).push(run);
    for (const run of keystore) (run.startedAt.getTime() >= cutoff ? result.kept : result.deleted).push(run);
    for (const run of result.deleted) await deleteBackup(run);

    // By file age, whatever the rows say: wrapped keys must not outlive the window in any file.
    const keptKeys = new Set(result.kept.filter((r) => r.kind === 'keystore').flatMap((r) => (r.storageKey ? [r.storageKey, manifestKeyOf(r.storageKey)] : [])));
    for (const object of await storage.keystore.list('', { includePartials: true })) {
      if (object.modifiedAt.getTime() < cutoff && !keptKeys.has(object.key) && (await storage.keystore.delete(object.key))) {
        result.sweptFiles.push({ kind: 'keystore', key: object.key });
      }
    }
    const partialCutoff = Date.now() - deps.stalePartialHours * 3_600_000;
    for (const kind of ['data', 'keystore'] as const) {
      for (const object of await storage[kind].list('', { includePartials: true })) {
        if (object.key.endsWith('.partial') && object.modifiedAt.getTime() < partialCutoff && (await storage[kind].delete(object.key))) {
          result.sweptFiles.push({ kind, key: object.key });
        }
      }
    }
    if (result.deleted.length || failedCleaned.length || result.sweptFiles.length) {
      logger.info({ deleted: result.deleted.map((r) => r.id), failedCleaned: failedCleaned.map((r) => r.id), swept: result.sweptFiles.length }, 'backups pruned');
    }
    return result;
  }

  /**
   * Retained key-store backups that need master-key `version` to be restored, with the date each
   * expires. Fail closed: a backup whose versions were not recorded, or whose manifest cannot be
   * read, counts as needing it.
   */
  async function keystoreBackupsNeeding(version: number, options: { now?: Date } = {}): Promise<KeyNeed[]> {
    const now = options.now ?? new Date();
    const windowMs = deps.keystoreRetentionDays * 86_400_000;
    const runs = await repo.listRuns({ kind: 'keystore', status: 'succeeded', limit: 1_000_000 });
    const needs: KeyNeed[] = [];
    for (const run of runs) {
      const expiresAt = new Date(run.startedAt.getTime() + windowMs);
      if (expiresAt.getTime() <= now.getTime() || !run.storageKey) continue;
      let because: string | undefined;
      try {
        const { masterKeyVersions } = await readVerifiedManifest(storage.keystore, signer, run.storageKey);
        if (!masterKeyVersions) because = 'it was taken before backups recorded their master-key versions';
        else if (masterKeyVersions.includes(version)) because = `its data keys are wrapped by master key version(s) ${masterKeyVersions.join(', ')}`;
      } catch (error) {
        because = `its manifest could not be read (${message(error)})`;
      }
      if (because) needs.push({ run, expiresAt, because });
    }
    return needs;
  }

  /** The nightly run for `date` (YYYY-MM-DD): idempotent, so a retried or duplicated job does no harm. */
  async function runScheduled(date: string): Promise<BackupRun[]> {
    requirePassphrase();
    const runs: BackupRun[] = [];
    for (const kind of ['data', 'keystore'] as const) {
      const existing = await repo.findScheduled(kind, date);
      // Done already ('deleted': done, and since pruned).
      if (existing?.status === 'succeeded' || existing?.status === 'deleted') {
        runs.push(existing);
        continue;
      }
      // A 'running' row for this night: retried only once its worker's lease expired. BullMQ's own
      // lock can expire under a long dump, and a second pg_dump beside the first must not start.
      if (existing && !(await repo.markInterrupted(existing.id))) {
        throw new BackupError(`the ${kind} backup of ${date} is still running (${existing.id}, held by ${existing.leaseOwner ?? 'unknown'} until ${existing.leaseExpiresAt?.toISOString() ?? '?'}); not starting a second one`);
      }
      runs.push(await run({ kind, scheduledFor: date }));
    }
    return runs;
  }

  return {
    requirePassphrase,
    run,
    runScheduled,
    prune,
    keystoreBackupsNeeding,
    verify: (ref: BackupRef, options: { progress?: ProgressFactory } = {}): Promise<VerifyResult> => reader.verify(ref, options),
    restore: reader.restore,
    decryptTo: reader.decryptTo,
    get: (id: string) => repo.findRun(id),
    /** Successful backups of the last two days never verified (the reconciler's work list). */
    awaitingVerification: async () => (await repo.listRuns({ status: 'succeeded', limit: 100 }))
      .filter((r) => !r.verifiedAt && Date.now() - r.startedAt.getTime() < 2 * 86_400_000),
    list: (filter: { kind?: BackupKind; limit?: number } = {}) => repo.listRuns(filter),
  };
}

export type BackupsService = ReturnType<typeof createBackupsService>;
