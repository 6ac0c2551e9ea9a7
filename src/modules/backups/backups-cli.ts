// `custos backup …`: operator commands over the backups service. Progress goes to stderr and a
// summary to stdout; failures print one clear line (cli.ts's describeError), never a stack trace.
import type { Command } from 'commander';
import type { CliContext } from '../../cli/context.js';
import { BackupError, MISSING_PASSPHRASE, type BackupRef } from './backups-service.js';
import type { BackupRun } from './backups-types.js';

const mib = (bytes: number | null) => (bytes === null ? '—' : `${(bytes / 1048576).toFixed(1)} MiB`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const line = (run: BackupRun) => [
  run.id,
  run.kind.padEnd(8),
  run.status.padEnd(9),
  run.startedAt.toISOString(),
  mib(run.sizeBytes).padStart(10),
  run.verifiedAt ? `verify ${run.verifyStatus} ${run.verifiedAt.toISOString()}` : 'not verified',
].join('  ');

function refOf(id: string | undefined, options: { latest?: boolean; keystore?: boolean }): BackupRef {
  if (id && options.latest) throw new Error('give a backup ID or --latest, not both');
  if (id) return { id };
  if (options.latest) return { latest: options.keystore ? 'keystore' : 'data' };
  throw new Error('give a backup ID or --latest');
}

export function registerBackupCommands(program: Command, ctx: CliContext) {
  const backup = program.command('backup').description('Encrypted database backups (AES-256-CBC, OpenSSL enc format, PBKDF2 100,000 iterations).');
  const out = (text: string) => process.stdout.write(`${text}\n`);
  // Fail closed before connecting to anything: without the passphrase no backup command runs.
  const openWithPassphrase = async () => {
    if (!ctx.config().backup.passphrase) throw new BackupError(MISSING_PASSPHRASE);
    return ctx.open();
  };

  backup.command('run')
    .description('Dump the database (pg_dump -Fc) through the encryptor into CUSTOS_BACKUP_DIR, with a signed manifest.')
    .option('--keystore', 'back up the key store (wrapped data keys) instead, into CUSTOS_KEYSTORE_BACKUP_DIR')
    .action(async (options: { keystore?: boolean }) => {
      const { backups } = await openWithPassphrase();
      const started = Date.now();
      const run = await backups.run({ kind: options.keystore ? 'keystore' : 'data', progress: ctx.progress });
      out(`backup ${run.id} (${run.kind}) succeeded in ${seconds(Date.now() - started)}`);
      out(`  file        ${run.storageKey} (${mib(run.sizeBytes)}, pg_dump archive ${mib(run.plaintextBytes)})`);
      out(`  sha256      ${run.ciphertextSha256} (encrypted file)`);
      out(`  next        custos backup verify ${run.id}`);
    });

  backup.command('verify [id]')
    .description('Decrypt, check the signed manifest and hashes, restore into a scratch database and compare row counts.')
    .option('--latest', 'the newest successful backup')
    .option('--keystore', 'with --latest: the newest key-store backup')
    .action(async (id: string | undefined, options: { latest?: boolean; keystore?: boolean }) => {
      const { backups } = await openWithPassphrase();
      const result = await backups.verify(refOf(id, options), { progress: ctx.progress });
      for (const t of result.tables) out(`  ${t.restored === t.expected ? 'ok  ' : 'DIFF'}  ${t.table}: ${t.expected} row(s) in the backup, ${t.restored ?? 'missing'} restored`);
      out(`verify ${result.ok ? 'PASSED' : 'FAILED'} for backup ${result.run.id} (${result.run.kind}) in ${seconds(result.durationMs)}: ${result.tables.length} table(s) compared`);
      if (!result.ok) {
        out(`  reason: ${result.error}`);
        process.exitCode = 1;
      }
    });

  backup.command('restore <id>')
    .description('Restore a backup into a database (refuses a database that already has tables unless --force-non-empty).')
    .requiredOption('--into <databaseUrl>', 'target database URL (postgres://…)')
    .option('--force-non-empty', 'restore into a database that already has tables (drops and replaces the backed-up objects)')
    .action(async (id: string, options: { into: string; forceNonEmpty?: boolean }) => {
      const { backups } = await openWithPassphrase();
      const started = Date.now();
      const { run, manifest, created } = await backups.restore(id, options.into, { forceNonEmpty: options.forceNonEmpty, progress: ctx.progress });
      const target = new URL(options.into);
      if (created) out(`created database ${target.pathname.slice(1)} on ${target.host}`);
      out(`restored backup ${run.id} (${run.kind}, schema ${manifest.schemaVersion ?? 'unknown'}) into database ${target.pathname.slice(1)} on ${target.host} in ${seconds(Date.now() - started)}`);
    });

  backup.command('decrypt [id]')
    .description('Write the decrypted pg_dump archive of a backup to a file (for pg_restore by hand).')
    .requiredOption('--out <file>', 'where to write the plaintext archive (mode 0600)')
    .option('--latest', 'the newest successful backup')
    .option('--keystore', 'with --latest: the newest key-store backup')
    .action(async (id: string | undefined, options: { out: string; latest?: boolean; keystore?: boolean }) => {
      const { backups } = await openWithPassphrase();
      const { run, manifest } = await backups.decryptTo(refOf(id, options), options.out, { progress: ctx.progress });
      out(`decrypted backup ${run.id} to ${options.out} (${mib(manifest.plaintext.size)}, sha256 ${manifest.plaintext.sha256} matches the signed manifest)`);
      out(`  inspect with: pg_restore --list ${options.out}`);
    });

  backup.command('list')
    .description('List backups, newest first.')
    .option('--limit <n>', 'how many', '50')
    .action(async (options: { limit: string }) => {
      const runs = await (await ctx.open()).backups.list({ limit: Number(options.limit) });
      if (runs.length === 0) out('no backups yet (custos backup run)');
      for (const run of runs) out(line(run));
    });

  backup.command('prune')
    .description('Apply retention: keep CUSTOS_BACKUP_KEEP_DAILY/_WEEKLY/_MONTHLY data backups and key-store backups younger than CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS; remove the files of failed and interrupted runs, every key-store file older than the window, and *.partial files older than CUSTOS_BACKUP_STALE_PARTIAL_HOURS.')
    .action(async () => {
      const { backups, platform } = await ctx.open();
      const { kept, deleted, failedCleaned, sweptFiles } = await backups.prune();
      for (const run of deleted) out(`deleted  ${line(run)}`);
      for (const run of failedCleaned) out(`cleaned  ${line(run)}`);
      for (const file of sweptFiles) out(`swept    ${file.kind.padEnd(8)}  ${file.key}`);
      const { keep, keystoreRetentionDays } = platform.config.backup;
      out(`pruned ${deleted.length} backup(s), kept ${kept.length} (policy: ${keep.daily} daily, ${keep.weekly} weekly, ${keep.monthly} monthly; key store ${keystoreRetentionDays} days); `
        + `removed the files of ${failedCleaned.length} failed or interrupted run(s) and ${sweptFiles.length} untracked or unfinished file(s)`);
    });
}
