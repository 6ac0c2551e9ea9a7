// Queue names and payloads in one typed map, so a payload is checked where it is enqueued.
// Payloads carry ids only (DESIGN.md, Durability): the job id is the request's id, so enqueueing
// twice is harmless and a reconciler can re-enqueue from PostgreSQL at any time.
import { Queue, Worker, type JobsOptions, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';

export interface QueuePayloads {
  'audit': { task: 'seal' | 'checkpoint' | 'purge' };
  'backups-run': { date: string };
  'backups-verify': { backupRunId: string };
  'privacy-export': { requestId: string };
  'privacy-deletion': { requestId: string };
  'accounts-sessions-purge': { slot: string };
  'relay': { task: 'purge-log' };
  'trust': { task: 'verify-audit' | 'subprocessor-notices' };
  'trust-incident-notify': { notificationId: string };
  'knowledge-index': { sourceId: string };
}

export type QueueName = keyof QueuePayloads;

/** Every queue, at run time (the metrics scrape reports each one's depth, opened or not). */
export const QUEUE_NAMES = ['audit', 'backups-run', 'backups-verify', 'privacy-export', 'privacy-deletion', 'accounts-sessions-purge', 'relay', 'trust', 'trust-incident-notify', 'knowledge-index'] as const satisfies readonly QueueName[];
// A queue added to QueuePayloads but not to QUEUE_NAMES fails to compile here.
const everyQueueListed: Exclude<QueueName, (typeof QUEUE_NAMES)[number]> extends never ? true : never = true;
void everyQueueListed;

export function createQueues(connection: Redis, prefix: string) {
  const queues = new Map<QueueName, Queue>();
  const queue = <N extends QueueName>(name: N): Queue<QueuePayloads[N]> => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      queues.set(name, q);
    }
    return q as unknown as Queue<QueuePayloads[N]>;
  };
  return {
    queue,
    async enqueue<N extends QueueName>(name: N, jobId: string, payload: QueuePayloads[N], options: JobsOptions = {}) {
      return (queue(name) as Queue).add(name, payload, {
        jobId,
        attempts: 5,
        backoff: { type: 'exponential', delay: 5_000 },
        removeOnComplete: { age: 24 * 3600, count: 1000 },
        removeOnFail: { age: 7 * 24 * 3600 },
        ...options,
      });
    },
    createWorker<N extends QueueName>(name: N, processor: Processor<QueuePayloads[N]>, workerConnection: Redis, concurrency = 2) {
      return new Worker<QueuePayloads[N]>(name, processor, { connection: workerConnection, prefix, concurrency });
    },
    /** Every known queue, opened on demand. */
    all: () => QUEUE_NAMES.map((name) => queue(name) as Queue),
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}

export type Queues = ReturnType<typeof createQueues>;
