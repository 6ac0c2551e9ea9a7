// Accounts jobs: every 15 minutes the scheduler enqueues the purge of dead sessions under the
// slot's job id (`sessions-purge-<slot>`), so several schedulers never double-run a slot; a
// worker deletes them in batches (src/modules/accounts/session-purge.ts).
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

export const SESSION_PURGE_EVERY_MS = 15 * 60_000;
export const sessionPurgeJobId = (now = Date.now()) => `sessions-purge-${Math.floor(now / SESSION_PURGE_EVERY_MS)}`;

export function accountsJobs(container: Container): DomainJobs {
  const { queues, logger } = container.platform;
  return {
    workers: (connect) => [queues.createWorker('accounts-sessions-purge', async () => {
      const result = await container.accounts.purgeDeadSessions();
      if (result.deleted) logger.info(result, 'dead sessions purged');
      return result;
    }, connect(), 1)],
    schedules: [{
      name: 'accounts-sessions-purge',
      cron: '*/15 * * * *',
      run: async () => {
        const jobId = sessionPurgeJobId();
        await queues.enqueue('accounts-sessions-purge', jobId, { slot: jobId }, { attempts: 3 });
      },
    }],
  };
}
