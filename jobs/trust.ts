// Trust-centre jobs: an hourly end-to-end verification of the audit trail, whose outcome the
// posture cites (audit.last_verified_at). Job ids are hour slots, so schedulers never double-run.
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

export function trustJobs(container: Container): DomainJobs {
  const { queues } = container.platform;
  return {
    workers: (connect) => [queues.createWorker('trust', async (job) => {
      if (job.data.task === 'verify-audit') await container.trust.verifyAuditTrail();
    }, connect(), 1)],
    schedules: [
      { name: 'trust-verify-audit', cron: '17 * * * *', run: () => queues.enqueue('trust', `trust-verify-audit-${Math.floor(Date.now() / 3_600_000)}`, { task: 'verify-audit' }, { attempts: 3 }).then(() => {}) },
    ],
  };
}
