// Resolved API keys kept in process memory for a few seconds, so a relayed call does not read
// PostgreSQL. Revocation must still hold at once on every replica, so the cache is only used
// while this process is subscribed to the relay's Redis invalidation channel:
//   - a revocation, rotation or account status change publishes the key id or user id on the
//     channel (after its transaction committed); every replica drops the matching entries;
//   - a hit is acted on only after a PING on the subscriber connection is answered (the barrier):
//     Redis writes a published message to every subscriber before it answers the PUBLISH, and
//     answers a subscriber's commands in order, so by the PONG every invalidation published
//     before the lookup began has been handled here. Without it, a request reaching this
//     replica just after a revocation returned on another could still be let through;
//   - while the subscription is down (not yet connected, reconnecting, a heartbeat PING
//     unanswered for 2 s) the cache is neither read nor filled: every call reads PostgreSQL (fail
//     closed), and the cache starts empty once the subscription is back, since messages may
//     have been missed meanwhile;
//   - an entry lives TTL_MS at most whatever happens (the bound if a publish itself is lost);
//   - a lookup that overlapped an invalidation does not fill the cache (the epoch check), so a
//     row read just before a revocation cannot be put back just after it.
// Entries are found by the key's non-secret prefix; the caller verifies the salted hash of the
// presented key against the cached one on every hit, as on a database read.
import type { Redis } from 'ioredis';
import type { Logger } from '../../platform/logger.js';

export const KEY_CACHE_TTL_MS = 5_000;
const MAX_ENTRIES = 20_000;
const HEARTBEAT_MS = 1_000;

export interface CachedKey {
  id: string;
  userId: string;
}

export interface KeyCacheOptions {
  redis: Redis;
  channel: string;
  logger: Pick<Logger, 'warn' | 'error'>;
  ttlMs?: number;
}

export function createKeyCache<T extends CachedKey>({ redis, channel, logger, ttlMs = KEY_CACHE_TTL_MS }: KeyCacheOptions) {
  const entries = new Map<string, { value: T; until: number }>();
  let subscriber: Redis | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let live = false;
  let closed = false;
  let subscriptions = 0;
  // Bumped by every invalidation and every loss of the subscription.
  let epoch = 0;
  // The barrier PING under way, and the one after it, shared by every lookup that began meanwhile
  // (the one under way may have been sent before their invalidation was published).
  let current: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;

  function roundTrip(sub: Redis): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const unanswered = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 2 * HEARTBEAT_MS); });
    const trip = Promise.race([sub.ping().then(() => live, () => false), unanswered]).finally(() => {
      clearTimeout(timer);
      if (current === trip) current = undefined;
    });
    current = trip;
    return trip;
  }

  /** true once every invalidation published before this call has been handled; false when that cannot be known. */
  function barrier(): Promise<boolean> {
    const sub = subscriber;
    if (!live || !sub) return Promise.resolve(false);
    if (!current) return roundTrip(sub);
    queued ??= current.then(() => {
      queued = undefined;
      return live ? roundTrip(sub) : false;
    });
    return queued;
  }

  function down() {
    if (live && !closed) logger.warn({}, 'relay: key-cache invalidation channel lost; API keys are read from PostgreSQL until it is back');
    live = false;
    epoch++;
    entries.clear();
  }

  function drop(message: string) {
    epoch++;
    if (message === '*') {
      entries.clear();
      return;
    }
    const [kind, id] = [message.slice(0, 2), message.slice(2)];
    for (const [prefix, entry] of entries) {
      if ((kind === 'k:' && entry.value.id === id) || (kind === 'u:' && entry.value.userId === id)) entries.delete(prefix);
    }
  }

  function start() {
    if (subscriber || closed) return;
    const sub = redis.duplicate({ connectionName: `${channel}:subscriber`, autoResubscribe: false, enableOfflineQueue: false, lazyConnect: false, maxRetriesPerRequest: 1 });
    subscriber = sub;
    sub.on('error', () => {});
    sub.on('close', down);
    sub.on('end', down);
    sub.on('reconnecting', down);
    sub.on('message', (_channel: string, message: string) => drop(message));
    sub.on('ready', () => {
      sub.subscribe(channel).then(() => {
        if (closed) return;
        entries.clear();
        epoch++;
        subscriptions++;
        live = true;
      }, down);
    });
    // A half-open connection sends no 'close': a PING unanswered within 2 periods counts as down,
    // and the connection is dropped and made again (its 'ready' subscribes afresh).
    let pinging = false;
    heartbeat = setInterval(() => {
      if (!live || pinging) return;
      pinging = true;
      pingTimer = setTimeout(() => {
        down();
        if (!closed) sub.disconnect(true);
      }, 2 * HEARTBEAT_MS);
      sub.ping().then(() => clearTimeout(pingTimer), () => { clearTimeout(pingTimer); down(); }).finally(() => { pinging = false; });
    }, HEARTBEAT_MS);
    heartbeat.unref();
  }

  /**
   * A live entry, served provisionally: its barrier is sent now and `confirmed` resolves true
   * once it is answered and the entry is still there (no invalidation of it was published
   * before this call), false otherwise (the caller must read PostgreSQL then). The caller may
   * do its own work meanwhile (validation, the spend reservation), but must not act on the
   * key (forward a call, answer anything but a refusal) before `confirmed` is true.
   */
  function peek(prefix: string): { value: T; confirmed: Promise<boolean> } | undefined {
    const entry = live ? entries.get(prefix) : undefined;
    if (!entry) return undefined;
    if (entry.until <= Date.now()) {
      entries.delete(prefix);
      return undefined;
    }
    const { value } = entry;
    // The barrier may deliver this key's invalidation, or the subscription go down: only the
    // same entry, still live, counts as confirmed.
    const confirmed = barrier().then((ok) => ok && live && entries.get(prefix)?.value === value && entry.until > Date.now());
    return { value, confirmed };
  }

  return {
    /** Whether the cache is in use (subscribed; false: every lookup reads PostgreSQL), and how often it (re)subscribed. */
    status: () => ({ live, subscriptions, entries: entries.size }),

    /** The epoch to hand back to `set`: a lookup that overlapped an invalidation is not cached. */
    begin(): number {
      start();
      return epoch;
    },

    peek,

    set(prefix: string, value: T, since: number): void {
      if (!live || since !== epoch) return;
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(prefix, { value, until: Date.now() + ttlMs });
    },

    /**
     * Drops a key (`k:<id>`) or every key of a user (`u:<id>`) here at once and on every other
     * replica through the channel. Called after the change committed. A failed publish is
     * retried; if it still fails, other replicas hold the old entry for TTL_MS at most.
     */
    async invalidate(message: `k:${string}` | `u:${string}`): Promise<void> {
      drop(message);
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await redis.publish(channel, message);
          return;
        } catch (error) {
          if (attempt === 2) logger.error({ err: { message: (error as Error).message } }, `relay: could not publish a key invalidation; other replicas drop it within ${ttlMs / 1000} s`);
        }
      }
    },

    async close(): Promise<void> {
      closed = true;
      live = false;
      clearInterval(heartbeat);
      clearTimeout(pingTimer);
      entries.clear();
      if (subscriber) {
        await subscriber.quit().catch(() => {});
        subscriber.disconnect();
      }
    },
  };
}

export type KeyCache<T extends CachedKey> = ReturnType<typeof createKeyCache<T>>;
