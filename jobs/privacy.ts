// Privacy jobs: export and deletion processors (payload: the request id), plus the reconciler
// that re-creates lost jobs from PostgreSQL and the purge of expired export archives.
import { Worker } from 'bullmq';
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';
import { DELETION_QUEUE, EXPORT_QUEUE } from '../src/modules/privacy/privacy-service.js';

export function privacyJobs(container: Container): DomainJobs {
  const { privacy, platform } = container;
  const { queuePrefix } = platform.config;
  // A short lock makes a job whose worker was killed visible as stalled within seconds, so
  // another worker resumes it; maxStalledCount lets it survive a few such crashes.
  const options = { prefix: queuePrefix, concurrency: 1, lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 5 };
  return {
    workers: (connect) => [
      new Worker<{ requestId: string }>(EXPORT_QUEUE, (job) => privacy.runExport(job.data.requestId), { ...options, connection: connect() }),
      new Worker<{ requestId: string }>(DELETION_QUEUE, (job) => privacy.runDeletion(job.data.requestId), { ...options, connection: connect() }),
    ],
    schedules: [
      { name: 'privacy-reconcile', cron: '* * * * *', run: async () => { await privacy.reconcile(); } },
      { name: 'privacy-expire-exports', cron: '*/10 * * * *', run: async () => {
        await privacy.expireExports();
        await platform.artifacts.sweepPartials(6 * 3600_000);
      } },
    ],
  };
}
