// Operator commands of the knowledge base: `custos knowledge status` (how many files are in each
// indexing state, and which need attention: ids, attempts and error class only, never content),
// and `custos knowledge backfill` (index files that joined folders before their job existed; the
// scheduler also runs it every 10 minutes).
import type { Command } from 'commander';
import type { CliContext } from '../../cli/context.js';

export function registerKnowledgeCommands(program: Command, ctx: CliContext): void {
  const knowledge = program.command('knowledge').description('The smart-folder knowledge base (indexing jobs).');
  knowledge.command('status')
    .description('Indexing jobs by state, and the failed or unfinished ones (oldest first).')
    .action(async () => {
      const { counts, chunks, attention } = await (await ctx.open()).knowledge.summary();
      const lines = [
        ...Object.entries(counts).map(([state, n]) => `${state.padEnd(14)} ${n}`),
        `${'chunks stored'.padEnd(14)} ${chunks}`,
      ];
      if (attention.length) {
        lines.push('', 'needing attention (source id, user id, state, chunks, attempts, last error, updated):');
        for (const s of attention) {
          lines.push(`${s.id} ${s.userId} ${s.state} ${s.chunksDone}/${s.chunksTotal ?? '?'} ${s.attempts} ${s.lastError ?? '-'} ${s.updatedAt.toISOString()}`);
        }
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  knowledge.command('backfill')
    .description('Create and enqueue indexing jobs for files in smart folders that have none.')
    .action(async () => {
      const created = await (await ctx.open()).knowledge.backfill();
      process.stdout.write(`created ${created} indexing job${created === 1 ? '' : 's'}\n`);
    });
}
