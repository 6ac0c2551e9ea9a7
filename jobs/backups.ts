// Nightly backups: the scheduler enqueues `backup-<date>` (deterministic, so several schedulers
// never double-run a night); the worker backs up data and key store, enqueues a verify per
// backup, then applies retention. State lives in backup_runs; a reconciler re-enqueues verifies
// that Redis may have lost. (BullMQ refuses custom ids with a single ':', hence the dashes.)
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

const today = () => new Date().toISOString().slice(0, 10);

export function backupJobs(container: Container): DomainJobs {
  const { backups, platform } = container;
  const { queues, config, logger } = platform;
  const enqueueVerify = (backupRunId: string) =>
    queues.enqueue('backups-verify', `backup-verify-${backupRunId}`, { backupRunId }, { attempts: 2 });

  return {
    workers: (connect) => [
      queues.createWorker('backups-run', async (job) => {
        const runs = await backups.runScheduled(job.data.date);
        for (const run of runs) if (!run.verifiedAt) await enqueueVerify(run.id);
        const { deleted } = await backups.prune();
        return { runs: runs.map((r) => r.id), pruned: deleted.length };
      }, connect(), 1),
      // One restore test at a time: each one creates a scratch database of the full size.
      queues.createWorker('backups-verify', async (job) => {
        const result = await backups.verify({ id: job.data.backupRunId });
        // A failed verification is a recorded result, not a transient error worth retrying.
        if (!result.ok) logger.error({ backupRunId: result.run.id, error: result.error }, 'backup verification failed');
        return { ok: result.ok, durationMs: result.durationMs };
      }, connect(), 1),
    ],
    schedules: [
      {
        name: 'backups-nightly',
        cron: config.backup.cron,
        run: async () => {
          const date = today();
          await queues.enqueue('backups-run', `backup-${date}`, { date }, { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } });
        },
      },
      {
        name: 'backups-reconcile-verify',
        cron: '*/15 * * * *',
        run: async () => {
          for (const run of await backups.awaitingVerification()) await enqueueVerify(run.id);
        },
      },
    ],
  };
}
