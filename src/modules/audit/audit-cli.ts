// `custos audit …`: verification (exit status 1 when the trail is broken, so cron and CI can
// alarm on it), an on-demand checkpoint and the retention purge.
import type { Command } from 'commander';
import type { CliContext } from '../../cli/context.js';

export function registerAuditCommands(program: Command, ctx: CliContext): void {
  const audit = program.command('audit').description('The staff-access audit trail.');

  audit.command('verify')
    .description('Recompute the hash chain and checkpoint signatures; prints "intact up to event N" or the first break. Exit status 1 when broken.')
    .option('--no-seal', 'do not seal pending events first (read-only)')
    .option('--json', 'print the full result as JSON')
    .option('--thorough', 'hash every event here instead of letting PostgreSQL recompute event hashes (slower)')
    .action(async (options: { seal: boolean; json?: boolean; thorough?: boolean }) => {
      const { audit: service } = await ctx.open();
      let bar: ReturnType<CliContext['progress']> | undefined;
      let shown = 0;
      const result = await service.verify({
        seal: options.seal,
        thorough: options.thorough,
        onProgress: (done, total) => {
          bar ??= ctx.progress('verifying events', total);
          bar.increment(done - shown);
          shown = done;
        },
      });
      bar?.stop();
      process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.message}\n`);
      if (!options.json) {
        process.stderr.write(`${result.eventsChecked} events and ${result.checkpointsChecked} signed checkpoints checked in ${result.durationMs} ms`
          + `${result.anchor ? `, starting from purge anchor checkpoint #${result.anchor.checkpointId} (event ${result.anchor.seq})` : ''}`
          + `${result.unsealed ? `; ${result.unsealed} newer events are not sealed yet` : ''}\n`);
      }
      if (!result.intact) process.exitCode = 1;
    });

  audit.command('checkpoint')
    .description('Seal pending events and write a signed checkpoint now (the scheduler does this every minute).')
    .action(async () => {
      const checkpoint = await (await ctx.open()).audit.checkpoint();
      process.stdout.write(checkpoint
        ? `checkpoint #${checkpoint.id}: event ${checkpoint.seq}, chain ${checkpoint.chainHash.toString('hex')}\n`
        : 'nothing new to checkpoint\n');
    });

  audit.command('purge')
    .description('Apply retention (CUSTOS_AUDIT_RETENTION_DAYS): remove the oldest whole checkpointed range past it, recorded as an event.')
    .action(async () => {
      const result = await (await ctx.open()).audit.purgeExpired();
      process.stdout.write(`${result.reason}\n`);
      if (result.reason.startsWith('refused')) process.exitCode = 1;
    });
}
