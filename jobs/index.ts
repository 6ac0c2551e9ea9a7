// BullMQ processors and the cron schedule. Thin: each calls a module service. One line per
// domain below; every processor's payload is an id (see src/platform/queues.ts).
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Container } from '../src/container.js';
import type { ScheduledTask } from '../src/platform/platform.js';
import { backupJobs } from './backups.js';
import { auditJobs } from './audit.js';
import { privacyJobs } from './privacy.js';
import { accountsJobs } from './accounts.js';
import { relayJobs } from './relay.js';
import { trustJobs } from './trust.js';
import { knowledgeJobs } from './knowledge.js';

export interface DomainJobs {
  workers?: (connect: () => Redis) => Worker[];
  schedules?: ScheduledTask[];
}

export function createJobs(container: Container): DomainJobs[] {
  void container;
  return [
    backupJobs(container),
    auditJobs(container),
    privacyJobs(container),
    accountsJobs(container),
    relayJobs(container),
    trustJobs(container),
    knowledgeJobs(container),
  ];
}
