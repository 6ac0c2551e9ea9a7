// Knowledge-base jobs: the indexing processor (payload: the source id), the reconciler that
// re-creates lost jobs from PostgreSQL, and the backfill that indexes files already in folders.
import { Worker } from 'bullmq';
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';
import { INDEX_QUEUE } from '../src/modules/knowledge/knowledge-service.js';

export function knowledgeJobs(container: Container): DomainJobs {
  const { knowledge, platform } = container;
  // Like the privacy jobs: a short lock makes a killed worker's job stalled within seconds, so
  // another worker resumes it from its last stored batch.
  const options = { prefix: platform.config.queuePrefix, concurrency: 2, lockDuration: 15_000, stalledInterval: 5_000, maxStalledCount: 5 };
  return {
    workers: (connect) => [
      new Worker<{ sourceId: string }>(INDEX_QUEUE, (job) => knowledge.runIndex(job.data.sourceId), { ...options, connection: connect() }),
    ],
    schedules: [
      { name: 'knowledge-reconcile', cron: '* * * * *', run: async () => { await knowledge.reconcile(); } },
      { name: 'knowledge-backfill', cron: '*/10 * * * *', run: async () => { await knowledge.backfill(); } },
    ],
  };
}
