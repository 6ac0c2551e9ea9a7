// The worker and scheduler roles. Workers process BullMQ jobs; the scheduler only enqueues jobs
// with deterministic ids from node-cron, so several schedulers never double-run a job.
import type { Worker } from 'bullmq';
import cron from 'node-cron';
import type { Redis } from 'ioredis';
import { createJobs } from '../jobs/index.js';
import type { Container } from './container.js';
import { createQueueConnection } from './platform/redis.js';

export interface RunningRole {
  close(): Promise<void>;
}

export function startWorkers(container: Container): RunningRole {
  const { config, logger } = container.platform;
  const connections: Redis[] = [];
  const connect = () => {
    const connection = createQueueConnection(config);
    connections.push(connection);
    return connection;
  };
  const workers: Worker[] = createJobs(container).flatMap((jobs) => jobs.workers?.(connect) ?? []);
  for (const worker of workers) {
    worker.on('failed', (job, error) => logger.warn({ queue: worker.name, jobId: job?.id, err: { message: error.message } }, 'job failed'));
    worker.on('error', (error) => logger.error({ queue: worker.name, err: { message: error.message } }, 'worker error'));
  }
  logger.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.allSettled(connections.map((c) => c.quit()));
    },
  };
}

export function startScheduler(container: Container): RunningRole {
  const { logger } = container.platform;
  const tasks = createJobs(container).flatMap((jobs) => jobs.schedules ?? []).map((task) =>
    cron.schedule(task.cron, async () => {
      try {
        await task.run();
      } catch (error) {
        logger.error({ task: task.name, err: { message: (error as Error).message } }, 'scheduled task failed');
      }
    }, { name: task.name, noOverlap: true }));
  logger.info({ tasks: tasks.length }, 'scheduler started');
  return {
    async close() {
      await Promise.all(tasks.map((t) => t.stop()));
    },
  };
}
