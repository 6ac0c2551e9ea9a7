// Shared by the canary tests (relay, assistant, knowledge): they plant a secret and prove it is in
// no stored form anywhere the service writes, Redis included.
import type { Redis } from 'ioredis';

/** Every key of the Redis database matching `match`, with a text rendering of its value whatever its type. */
export async function redisValues(redis: Redis, match = '*'): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.getBuffer(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, '0', '-1');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else continue; // expired between SCAN and TYPE
      values.set(key, Buffer.isBuffer(value) ? value.toString('latin1') : JSON.stringify(value));
    }
  } while (cursor !== '0');
  return values;
}

/** The canary as written, hex-encoded, or the start of its base64 form. */
export const containsAnyForm = (haystack: string, needle: string) =>
  haystack.includes(needle) || haystack.toLowerCase().includes(Buffer.from(needle).toString('hex')) || haystack.includes(Buffer.from(needle).toString('base64').slice(0, 16));
