// The reading side of backups: verify (restore into a scratch database and compare row counts),
// restore into a real database, and decrypt to a file. Every path checks the signed manifest and
// the ciphertext's SHA-256 before decrypting (CBC alone would not notice a changed byte), and the
// plaintext's SHA-256 after.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { createOpenSslDecryptor, DecryptionError } from '../../platform/crypto/openssl-enc.js';
import { createDb, withDatabaseName } from '../../platform/db.js';
import { countRows, countUserTables } from './backups-repo.js';
import type { BackupManifest, BackupRun, VerifyResult } from './backups-types.js';
import type { BackupRef, BackupsDeps, ProgressFactory } from './backups-service.js';
import { ManifestError, readVerifiedManifest } from './manifest.js';
import { startPgRestore } from './pg-tools.js';

interface ReaderDeps extends BackupsDeps {
  requirePassphrase(): string;
  BackupError: new (message: string) => Error;
}

const RESTORE_FLAGS = ['--no-owner', '--no-privileges', '--exit-on-error'];

export function createBackupReader(deps: ReaderDeps) {
  const { repo, storage, signer, databaseUrl, logger, BackupError } = deps;

  async function resolve(ref: BackupRef): Promise<BackupRun> {
    const run = 'id' in ref ? await repo.findRun(ref.id) : await repo.latestSucceeded(ref.latest);
    if (!run) throw new BackupError('id' in ref ? `no backup with id ${ref.id}` : `there is no successful ${ref.latest} backup yet`);
    if (run.status !== 'succeeded' || !run.storageKey) throw new BackupError(`backup ${run.id} is ${run.status}, not restorable`);
    return run;
  }

  /** Manifest signed by us, about this file, matching the row; then the file's bytes match the manifest. */
  async function checkedManifest(run: BackupRun, progress?: ProgressFactory): Promise<BackupManifest> {
    const store = storage[run.kind];
    const manifest = await readVerifiedManifest(store, signer, run.storageKey!);
    if (manifest.id !== run.id || manifest.ciphertext.sha256 !== run.ciphertextSha256) {
      throw new ManifestError(`manifest of ${run.storageKey} does not match backup ${run.id} in the database`);
    }
    const stat = await store.stat(run.storageKey!);
    if (!stat) throw new BackupError(`backup file ${run.storageKey} is missing`);
    if (stat.size !== manifest.ciphertext.size) {
      throw new BackupError(`backup file ${run.storageKey} is ${stat.size} bytes, the signed manifest says ${manifest.ciphertext.size}: truncated or altered`);
    }
    const hash = createHash('sha256');
    const bar = progress?.('checking SHA-256 (MiB)', Math.ceil(stat.size / 1048576));
    for await (const chunk of await store.get(run.storageKey!)) {
      hash.update(chunk as Buffer);
      bar?.increment((chunk as Buffer).length / 1048576);
    }
    bar?.stop();
    if (hash.digest('hex') !== manifest.ciphertext.sha256) {
      throw new BackupError(`backup file ${run.storageKey} does not match the SHA-256 in its signed manifest: altered`);
    }
    return manifest;
  }

  /** Decrypts the backup into `sink`, then checks the plaintext against the manifest. */
  async function decryptInto(run: BackupRun, manifest: BackupManifest, sink: Writable, done: Promise<void> | undefined, progress?: ProgressFactory) {
    const decryptor = createOpenSslDecryptor(deps.requirePassphrase());
    const bar = progress?.('decrypting (MiB)', Math.ceil(manifest.ciphertext.size / 1048576));
    const source = await storage[run.kind].get(run.storageKey!);
    source.on('data', (chunk: Buffer) => bar?.increment(chunk.length / 1048576));
    try {
      await Promise.all([pipeline(source, decryptor, sink), done]);
    } catch (error) {
      // A bad passphrase makes pg_restore reject the garbage first; report the cause, not the symptom.
      if (error instanceof DecryptionError) throw new BackupError(error.message);
      if (!decryptor.writableFinished) throw error;
      const plain = decryptorDigest(decryptor);
      if (plain && plain !== manifest.plaintext.sha256) throw new BackupError('wrong passphrase or not an OpenSSL-encrypted file');
      throw error;
    } finally {
      bar?.stop();
    }
    const { plaintext } = decryptor.digests();
    if (plaintext.sha256 !== manifest.plaintext.sha256 || plaintext.size !== manifest.plaintext.size) {
      throw new BackupError('decrypted data does not match the plaintext SHA-256 in the signed manifest (wrong passphrase?)');
    }
  }
  const decryptorDigest = (d: ReturnType<typeof createOpenSslDecryptor>) => {
    try {
      return d.digests().plaintext.sha256;
    } catch {
      return undefined;
    }
  };

  async function verify(ref: BackupRef, options: { progress?: ProgressFactory } = {}): Promise<VerifyResult> {
    deps.requirePassphrase();
    const run = await resolve(ref);
    const started = Date.now();
    const scratchName = `custos_verify_${run.id.slice(0, 8)}_${randomBytes(4).toString('hex')}`;
    const scratchUrl = withDatabaseName(databaseUrl, scratchName);
    const admin = createDb(withDatabaseName(databaseUrl, 'postgres'), 1);
    let tables: VerifyResult['tables'] = [];
    let error: string | undefined;
    let created = false;
    try {
      const manifest = await checkedManifest(run, options.progress);
      await admin.raw(`CREATE DATABASE "${scratchName}"`);
      created = true;
      const restore = startPgRestore(scratchUrl, RESTORE_FLAGS);
      await decryptInto(run, manifest, restore.stdin, restore.done, options.progress);
      const scratch = createDb(scratchUrl, 1);
      let restored: Record<string, number>;
      try {
        restored = await countRows(scratch, run.kind);
      } finally {
        await scratch.destroy();
      }
      const names = [...new Set([...Object.keys(manifest.rowCounts), ...Object.keys(restored)])].sort();
      tables = names.map((table) => ({ table, expected: manifest.rowCounts[table] ?? 0, restored: restored[table] ?? null }));
      const wrong = tables.filter((t) => t.restored !== t.expected || !(t.table in manifest.rowCounts));
      if (wrong.length) error = `row counts differ: ${wrong.map((t) => `${t.table} expected ${t.expected}, restored ${t.restored ?? 'missing'}`).join('; ')}`;
    } catch (e) {
      error = (e as Error).message;
    } finally {
      if (created) await admin.raw(`DROP DATABASE IF EXISTS "${scratchName}" WITH (FORCE)`).catch((e) => logger.warn({ scratchName, err: { message: e.message } }, 'could not drop scratch database'));
      await admin.destroy();
    }
    const durationMs = Date.now() - started;
    await repo.recordVerify(run.id, { ok: !error, durationMs, error });
    logger.info({ backupRunId: run.id, ok: !error, durationMs }, 'backup verified');
    return { run: (await repo.findRun(run.id))!, ok: !error, durationMs, tables, error };
  }

  /**
   * The target database exists afterwards, or this throws one line saying what to run. A plain
   * pg client (not a knex pool) so a failed connection is an answer, not a logged stack trace.
   */
  async function ensureTargetDatabase(intoUrl: string): Promise<{ created: boolean }> {
    let url: URL;
    try {
      url = new URL(intoUrl);
    } catch {
      throw new BackupError('--into must be a PostgreSQL URL: postgres://user@host:5432/<database>');
    }
    const name = decodeURIComponent(url.pathname.slice(1));
    if (!/^postgres(ql)?:$/.test(url.protocol) || !name) throw new BackupError('--into must be a PostgreSQL URL naming the database: postgres://user@host:5432/<database>');
    const where = `${url.hostname}:${url.port || '5432'}`;
    const tryConnect = async (connectionString: string) => {
      const client = new pg.Client({ connectionString, application_name: 'custos' });
      try {
        await client.connect();
        return client;
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
    };
    try {
      await (await tryConnect(intoUrl)).end();
      return { created: false };
    } catch (error) {
      // 3D000 invalid_catalog_name: the server answered, the database is not there.
      if ((error as { code?: string }).code !== '3D000') throw new BackupError(`cannot connect to the target database ${name} on ${where}: ${(error as Error).message}`);
    }
    const safeUrl = new URL(withDatabaseName(intoUrl, 'postgres'));
    safeUrl.password = '';
    const createCommand = `psql "${safeUrl.toString()}" -c 'CREATE DATABASE "${name.replace(/"/g, '""')}"'`;
    let admin: pg.Client;
    try {
      admin = await tryConnect(withDatabaseName(intoUrl, 'postgres'));
    } catch (error) {
      throw new BackupError(`database ${name} does not exist on ${where}, and this connection cannot reach the "postgres" database to create it (${(error as Error).message}); create it first: ${createCommand}`);
    }
    try {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      logger.info({ database: name }, 'created the restore target database');
      return { created: true };
    } catch (error) {
      throw new BackupError(`database ${name} does not exist on ${where}, and this role may not create it (${(error as Error).message}); ask its owner to run: ${createCommand}`);
    } finally {
      await admin.end().catch(() => {});
    }
  }

  async function restore(id: string, intoUrl: string, options: { forceNonEmpty?: boolean; progress?: ProgressFactory } = {}) {
    deps.requirePassphrase();
    const run = await resolve({ id });
    const manifest = await checkedManifest(run, options.progress);
    const { created } = await ensureTargetDatabase(intoUrl);
    const target = createDb(intoUrl, 1);
    try {
      const tablesThere = await countUserTables(target);
      if (tablesThere > 0 && !options.forceNonEmpty) {
        throw new BackupError(`the target database already has ${tablesThere} table(s); refusing to restore over it (add --force-non-empty to drop and replace the backed-up objects)`);
      }
    } finally {
      await target.destroy();
    }
    const flags = options.forceNonEmpty ? [...RESTORE_FLAGS, '--clean', '--if-exists'] : RESTORE_FLAGS;
    const restoring = startPgRestore(intoUrl, flags);
    await decryptInto(run, manifest, restoring.stdin, restoring.done, options.progress);
    return { run, manifest, created };
  }

  /** Writes the plaintext dump to `outFile` (mode 0600), published only once it matches the manifest. */
  async function decryptTo(ref: BackupRef, outFile: string, options: { progress?: ProgressFactory } = {}) {
    deps.requirePassphrase();
    const run = await resolve(ref);
    const manifest = await checkedManifest(run, options.progress);
    const partial = `${outFile}.${randomBytes(4).toString('hex')}.partial`;
    try {
      await decryptInto(run, manifest, createWriteStream(partial, { mode: 0o600 }), undefined, options.progress);
      await rename(partial, outFile);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { run, manifest };
  }

  return { verify, restore, decryptTo };
}
