// Shared infrastructure handed to every module's register function. No business rules here.
import type { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { createDb, type Knex } from './db.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createQueues, type Queues } from './queues.js';
import { createRedis, createQueueConnection } from './redis.js';
import { createKeyStore, type KeyStore } from './crypto/key-store.js';
import { createFieldCipher, type FieldCipher } from './crypto/field-cipher.js';
import { createSigner, parseSigningKey, type Signer } from './crypto/signing.js';
import type { AccessDenial, SchemeResolver } from './http/auth.js';

export interface Platform {
  config: Config;
  logger: Logger;
  db: Knex;
  redis: Redis;
  /** BullMQ's producer connection (queues never block, but BullMQ wants its own client). */
  queueConnection: Redis;
  queues: Queues;
  keyStore: KeyStore;
  fieldCipher: FieldCipher;
  signer: Signer;
  metrics: Metrics;
}

export type Handler = (req: Request, res: Response) => Promise<void> | void;
/** Handlers keyed by OpenAPI operationId. */
export type RouteTable = Record<string, Handler>;

export interface ScheduledTask {
  name: string;
  /** node-cron expression */
  cron: string;
  run: () => Promise<void>;
}

/** What a module contributes to the processes. Every member is optional. */
export interface ModuleRegistration {
  name: string;
  routes?: RouteTable;
  schemes?: Record<string, SchemeResolver>;
  onDenied?: (denial: AccessDenial) => Promise<void>;
  /** Started by `custos worker`; each gets its own blocking Redis connection. */
  workers?: (connect: () => Redis) => Worker[];
  /** Started by `custos scheduler`; each run should only enqueue jobs with deterministic ids. */
  schedules?: ScheduledTask[];
}

export function createPlatform(config: Config, logger: Logger = createLogger(config.logLevel)): Platform {
  const db = createDb(config.databaseUrl, config.databasePoolMax);
  const redis = createRedis(config.redisUrl);
  const queueConnection = createQueueConnection(config.redisUrl);
  const keyStore = createKeyStore(db, { masterKeys: config.masterKeys });
  return {
    config,
    logger,
    db,
    redis,
    queueConnection,
    queues: createQueues(queueConnection, config.queuePrefix),
    keyStore,
    fieldCipher: createFieldCipher(keyStore),
    signer: createSigner(parseSigningKey(config.signingKeyPem)),
    metrics: createMetrics(),
  };
}

export async function closePlatform(platform: Platform): Promise<void> {
  await platform.queues.close().catch(() => {});
  await Promise.allSettled([platform.redis.quit(), platform.queueConnection.quit()]);
  await platform.db.destroy();
}
