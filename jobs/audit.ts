// Audit-trail jobs: the scheduler enqueues, a worker runs. Sealing every 10 s keeps the window in
// which a fresh event is unchained short; a signed checkpoint every minute anchors the chain to a
// key outside the database; retention runs nightly. Job ids are time slots, so several schedulers
// never double-run a slot.
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

type Task = 'seal' | 'checkpoint' | 'purge';

export function auditJobs(container: Container): DomainJobs {
  const { queues } = container.platform;
  const slot = (task: Task, ms: number) => `audit-${task}-${Math.floor(Date.now() / ms)}`;
  const enqueue = (task: Task, ms: number) => queues.enqueue('audit', slot(task, ms), { task }, { attempts: 3 }).then(() => {});
  return {
    workers: (connect) => [queues.createWorker('audit', async (job) => {
      if (job.data.task === 'seal') await container.audit.seal();
      else if (job.data.task === 'checkpoint') await container.audit.checkpoint();
      else await container.audit.purgeExpired();
    }, connect(), 1)],
    schedules: [
      { name: 'audit-seal', cron: '*/10 * * * * *', run: () => enqueue('seal', 10_000) },
      { name: 'audit-checkpoint', cron: '* * * * *', run: () => enqueue('checkpoint', 60_000) },
      { name: 'audit-retention', cron: '40 3 * * *', run: () => enqueue('purge', 86_400_000) },
    ],
  };
}
