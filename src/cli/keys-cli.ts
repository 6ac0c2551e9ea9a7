// `custos keys …`: secrets for a new deployment, master-key rotation, and the check that says
// when an old master key may leave CUSTOS_MASTER_KEYS. A key-store backup is only restorable
// with every master key that wrapped its data keys, so rotation takes a fresh key-store backup
// at once, and retiring a version is refused while a retained key-store backup still needs it.
import type { Command } from 'commander';
import { generateSecrets } from '../platform/dev-secrets.js';
import type { KeyNeed } from '../modules/backups/backups-service.js';
import { BackupError, MISSING_PASSPHRASE } from '../modules/backups/backups-service.js';
import type { CliContext } from './context.js';

const day = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
const needLine = (need: KeyNeed) =>
  `  key-store backup ${need.run.id} (taken ${day(need.run.startedAt)}) is kept until ${day(need.expiresAt)}: ${need.because}`;

export function registerKeyCommands(program: Command, ctx: CliContext) {
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const keys = program.command('keys').description('Master keys and secrets.');

  keys.command('generate')
    .description('Print a fresh set of secrets as an env file (master key, API-key pepper, signing key, backup passphrase).')
    .action(() => {
      out(Object.entries(generateSecrets()).map(([k, v]) => `${k}=${v}`).join('\n'));
    });

  keys.command('rotate')
    .description('Re-wrap every data key under the newest master key (resumable), then take a key-store backup. Add the new key to CUSTOS_MASTER_KEYS first.')
    .option('--batch-size <n>', 'keys per transaction', '500')
    .action(async (options: { batchSize: string }) => {
      // The backup that follows the re-wrap is what lets the old key retire before the older
      // key-store backups expire; without the passphrase it cannot be taken, so nothing starts.
      if (!ctx.config().backup.passphrase) throw new BackupError(`${MISSING_PASSPHRASE} (rotation takes a key-store backup as soon as the keys are re-wrapped)`);
      const { platform, backups } = await ctx.open();
      const { keyStore, config } = platform;
      const { stale, total } = await keyStore.countStale();
      process.stderr.write(`${stale} of ${total} data keys are wrapped by an older master key; newest is version ${keyStore.currentVersion}\n`);
      const bar = ctx.progress('re-wrapping', stale);
      let done = 0;
      for (;;) {
        const n = await keyStore.rewrapBatch(Number(options.batchSize));
        if (n === 0) break;
        done += n;
        bar.increment(n);
      }
      bar.stop();
      const after = await keyStore.countStale();
      out(`re-wrapped ${done} data key(s); ${after.stale} remain on older master keys`);
      if (after.stale > 0) {
        process.exitCode = 1;
        return;
      }
      const backup = await backups.run({ kind: 'keystore', progress: ctx.progress });
      out(`key-store backup ${backup.id} taken: it needs only master key version ${keyStore.currentVersion} (check it: custos backup verify ${backup.id})`);
      const older = [...config.masterKeys.keys()].filter((v) => v < keyStore.currentVersion).sort((a, b) => a - b);
      for (const version of older) {
        const needs = await backups.keystoreBackupsNeeding(version);
        const until = needs.reduce<Date | undefined>((max, n) => (!max || n.expiresAt > max ? n.expiresAt : max), undefined);
        out(until
          ? `master key version ${version}: still needed by ${needs.length} retained key-store backup(s) until ${day(until)}; retire it then (custos keys retire ${version})`
          : `master key version ${version}: no longer needed; retire it now (custos keys retire ${version})`);
      }
    });

  keys.command('retire <version>')
    .description('Check that a master-key version may be removed from CUSTOS_MASTER_KEYS: no data key and no retained key-store backup needs it. Exit 1 (saying which backup, and until when) otherwise.')
    .action(async (versionText: string) => {
      const version = Number(versionText);
      if (!Number.isInteger(version) || version < 1) throw new Error(`the version must be a positive integer, got "${versionText}"`);
      const { platform, backups } = await ctx.open();
      const { keyStore, config } = platform;
      const refusals: string[] = [];
      if (version === keyStore.currentVersion) refusals.push(`version ${version} is the newest master key: it wraps every new data key (add a newer one and run custos keys rotate first)`);
      const onIt = (await keyStore.countByVersion()).get(version) ?? 0;
      if (onIt > 0) refusals.push(`${onIt} data key(s) are still wrapped by version ${version}: run custos keys rotate first`);
      const needs = await backups.keystoreBackupsNeeding(version);
      if (needs.length) {
        refusals.push(`${needs.length} retained key-store backup(s) need version ${version} to be restored (CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS=${config.backup.keystoreRetentionDays}):\n${needs.map(needLine).join('\n')}`);
      }
      const configured = config.masterKeys.has(version);
      if (refusals.length) {
        process.stderr.write(`custos: refusing to retire master key version ${version}${configured ? '' : ' (and it is already missing from CUSTOS_MASTER_KEYS: put it back)'}:\n${refusals.map((r) => `- ${r}`).join('\n')}\n`);
        process.exitCode = 1;
        return;
      }
      out(configured
        ? `master key version ${version} is no longer needed: remove "${version}:…" from CUSTOS_MASTER_KEYS everywhere (API, workers, CLI) and restart`
        : `master key version ${version} is not in CUSTOS_MASTER_KEYS, and nothing needs it`);
    });
}
