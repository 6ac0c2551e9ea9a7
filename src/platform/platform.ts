// Shared infrastructure handed to every module's register function. No business rules here.
import type { Redis } from 'ioredis';
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import type { ArtifactStorage } from './storage.js';
import { createStorage } from './storage-factory.js';
import type { Config } from '../config.js';
import { createDb, type Knex, type ListingReads } from './db.js';
import { createDbNotifications, type DbNotifications } from './db-notifications.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createQueues, type Queues } from './queues.js';
import { createRedis, createQueueConnection } from './redis.js';
import { createKeyStore, type KeyStore } from './crypto/key-store.js';
import { createFieldCipher, type FieldCipher } from './crypto/field-cipher.js';
import { createSigner, parseSigningKey, type Signer } from './crypto/signing.js';
import type { AccessDenial, SchemeResolver } from './http/auth.js';
import type { HttpProblem } from './http/problem.js';

export interface Platform {
  config: Config;
  logger: Logger;
  db: Knex;
  /** Listing reads that tolerate replica lag (DATABASE_READ_URL); `db` itself when that is unset. See ListingReads. */
  readDb: ListingReads;
  /** LISTEN/NOTIFY on the primary; the connection opens on the first subscription. */
  notifications: DbNotifications;
  redis: Redis;
  /** BullMQ's producer connection (queues never block, but BullMQ wants its own client). */
  queueConnection: Redis;
  queues: Queues;
  keyStore: KeyStore;
  fieldCipher: FieldCipher;
  signer: Signer;
  metrics: Metrics;
  artifacts: ArtifactStorage;
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
  /** The module's share of a user's personal data, for exports (GDPR Art. 15/20). */
  personalData?: PersonalDataProvider;
  /** Errors under a path prefix in another wire shape than RFC 9457 (the relay's /v1 speaks OpenAI's). */
  errorShape?: ErrorShape;
  /** Told after a user's account status changed (deletion requested or cancelled), once committed. */
  onAccountStatusChanged?: (userId: string) => Promise<void>;
  /** Adds the module's demo data for the demo user (`custos seed`); must be idempotent. */
  seed?: (demo: DemoAccounts) => Promise<void>;
}

export interface ErrorShape {
  pathPrefix: string;
  /** True for the module's own errors, which `send` renders as they are. */
  owns(error: unknown): boolean;
  send(error: unknown, req: Request, res: Response): void;
  /** Any other error, after the platform mapped it to a problem (no internals in it). */
  sendProblem(problem: HttpProblem, req: Request, res: Response): void;
}

/**
 * How a module hands its part of a user's data to the privacy module. Exports ask every module
 * for its collections and files; deletion removes rows generically (every table with a user_id
 * foreign key to users, found from the FK graph) and asks modules only for what lives outside
 * PostgreSQL, such as stored file bytes.
 */
export interface PersonalDataProvider {
  /** Collections written as <name>.json in the export, each row decrypted and JSON-ready. */
  collections: Array<{
    name: string;
    description: string;
    rows: (userId: string) => AsyncIterable<Record<string, unknown>>;
    /**
     * Optional fast path for big collections: the same rows already serialised, each item one or
     * more JSON objects joined by ",\n" (no leading or trailing separator), byte for byte what
     * JSON.stringify of `rows` would give. The export writes these instead of `rows`.
     * `signal` is aborted when the export fails elsewhere, so work it started (a thread) stops too.
     */
    json?: (userId: string, signal: AbortSignal) => AsyncIterable<{ chunks: Buffer[]; rows: number }>;
  }>;
  /** Binary files (e.g. uploaded originals) written under files/ in the export. */
  files?: (userId: string) => AsyncIterable<{ path: string; size: number; open: () => Promise<Readable> }>;
  /** Deletes what the module stores outside PostgreSQL for the user; returns how many objects. Must be repeatable. */
  eraseArtifacts?: (userId: string) => Promise<number>;
}

export interface DemoAccounts {
  userId: string;
  userEmail: string;
}

export function createPlatform(config: Config, logger: Logger = createLogger(config.logLevel)): Platform {
  const db = createDb(config.databaseUrl, config.databasePoolMax);
  const readDb = config.databaseReadUrl ? createDb(config.databaseReadUrl, config.databasePoolMax, 'custos-read') : db;
  const redis = createRedis(config);
  const queueConnection = createQueueConnection(config);
  const keyStore = createKeyStore(db, { masterKeys: config.masterKeys });
  return {
    config,
    logger,
    db,
    readDb,
    notifications: createDbNotifications({ databaseUrl: config.databaseUrl, logger }),
    redis,
    queueConnection,
    queues: createQueues(queueConnection, config.queuePrefix),
    keyStore,
    fieldCipher: createFieldCipher(keyStore),
    signer: createSigner(parseSigningKey(config.signingKeyPem)),
    metrics: createMetrics(),
    artifacts: createStorage(config, 'artifacts'),
  };
}

export async function closePlatform(platform: Platform): Promise<void> {
  await platform.queues.close().catch(() => {});
  await Promise.allSettled([platform.redis.quit(), platform.queueConnection.quit()]);
  // QUIT fails on a client that is still connecting (or cannot connect), and the socket would
  // then keep the process alive; disconnect() closes it in every state.
  platform.redis.disconnect();
  platform.queueConnection.disconnect();
  platform.artifacts.close?.();
  await platform.notifications.close();
  if (platform.readDb !== platform.db) await platform.readDb.destroy();
  await platform.db.destroy();
}
