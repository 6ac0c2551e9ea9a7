// Trust-centre jobs: an hourly end-to-end verification of the audit trail, whose outcome the
// posture cites (audit.last_verified_at); incident notices (payload: the notification's id) and
// their reconciler, which re-enqueues any notice still pending in PostgreSQL; sub-processor
// change notices every five minutes (announced, then in effect). Job ids are hour
// slots or request ids, so several schedulers never double-run one.
import type { Container } from '../src/container.js';
import type { DomainJobs } from './index.js';

export function trustJobs(container: Container): DomainJobs {
  const { queues } = container.platform;
  const { trust } = container;
  return {
    workers: (connect) => [
      queues.createWorker('trust', async (job) => {
        if (job.data.task === 'verify-audit') await trust.verifyAuditTrail();
        else if (job.data.task === 'subprocessor-notices') await trust.subprocessors.sendNotices();
      }, connect(), 1),
      queues.createWorker('trust-incident-notify', async (job) => {
        await trust.incidents.deliverNotification(job.data.notificationId);
      }, connect(), 1),
    ],
    schedules: [
      { name: 'trust-verify-audit', cron: '17 * * * *', run: () => queues.enqueue('trust', `trust-verify-audit-${Math.floor(Date.now() / 3_600_000)}`, { task: 'verify-audit' }, { attempts: 3 }).then(() => {}) },
      { name: 'trust-subprocessor-notices', cron: '*/5 * * * *', run: () => queues.enqueue('trust', `trust-subprocessor-notices-${Math.floor(Date.now() / 300_000)}`, { task: 'subprocessor-notices' }, { attempts: 3 }).then(() => {}) },
      { name: 'trust-reconcile', cron: '* * * * *', run: async () => { await trust.incidents.reconcile(); } },
    ],
  };
}
