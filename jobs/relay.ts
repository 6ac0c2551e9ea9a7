// Relay jobs: the relay log (metadata only) is purged hourly of rows older than
// CUSTOS_RELAY_LOG_RETENTION_DAYS, so no row outlives the promised window by more than an hour.
// The job id is the hour slot, so several schedulers never double-run it.
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

export function relayJobs(container: Container): DomainJobs {
  const { queues, logger } = container.platform;
  return {
    workers: (connect) => [queues.createWorker('relay', async () => {
      const removed = await container.relay.purgeExpiredLog();
      logger.info({ removed, retentionDays: container.relay.logRetentionDays }, 'relay log purged');
    }, connect(), 1)],
    schedules: [{
      name: 'relay-log-retention',
      cron: '7 * * * *',
      run: () => queues.enqueue('relay', `relay-purge-log-${Math.floor(Date.now() / 3_600_000)}`, { task: 'purge-log' }, { attempts: 3 }).then(() => {}),
    }],
  };
}
