import { Redis, type RedisOptions } from 'ioredis';

/**
 * Command client for request paths (rate limits, readiness). No offline queue and a single
 * retry, so a Redis outage surfaces at once as 503 instead of hanging requests.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
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
