import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';

/**
 * Where Redis is: REDIS_URL, or Redis Sentinel (ioredis then asks the sentinels for the current
 * primary and reconnects to the new one after a failover; REDIS_URL supplies password and db).
 */
export type RedisTarget = string | Pick<Config, 'redisUrl' | 'redisSentinel'>;

function connect(target: RedisTarget, options: RedisOptions): Redis {
  if (typeof target === 'string') return new Redis(target, options);
  const sentinel = target.redisSentinel;
  if (!sentinel) return new Redis(target.redisUrl, options);
  return new Redis(target.redisUrl, { ...options, sentinels: sentinel.sentinels, name: sentinel.name, role: 'master' });
}

/**
 * Command client for request paths (rate limits, readiness). A single retry and a command
 * timeout, so a Redis outage surfaces within about two seconds as 503 instead of hanging
 * requests. The offline queue stays on: without it, requests arriving while the client is still
 * connecting (just after start-up, or after a Redis restart) failed with 503 although Redis was up.
 */
export function createRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  const client = connect(target, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    commandTimeout: 2000,
    connectTimeout: 2000,
    lazyConnect: false,
    ...options,
  });
  // Connection errors are reported through readiness and per-request failures; without a
  // listener ioredis would print unhandled error events.
  client.on('error', () => {});
  return client;
}

/** Connection options BullMQ workers need (they block on Redis and must retry forever). */
export function createQueueConnection(target: RedisTarget): Redis {
  const client = connect(target, { maxRetriesPerRequest: null, enableReadyCheck: false });
  client.on('error', () => {});
  return client;
}
