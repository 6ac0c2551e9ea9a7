import { Redis, type RedisOptions } from 'ioredis';

/**
 * Command client for request paths (rate limits, readiness). A single retry and a command
 * timeout, so a Redis outage surfaces within about two seconds as 503 instead of hanging
 * requests. The offline queue stays on: without it, requests arriving while the client is still
 * connecting (just after start-up, or after a Redis restart) failed with 503 although Redis was up.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
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
export function createQueueConnection(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false });
  client.on('error', () => {});
  return client;
}
