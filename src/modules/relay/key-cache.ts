// Resolved API keys kept in process memory for a few seconds, so a relayed call does not read
// PostgreSQL. Revocation must still hold at once on every replica, so the cache is only used
// while this process is subscribed to the relay's Redis invalidation channel:
//   - a revocation, rotation or account status change publishes the key id or user id on the
//     channel (after its transaction committed); every replica drops the matching entries;
//   - a hit is acted on only once a PING on the subscriber connection, sent after the lookup
//     began, is answered (the barrier): Redis writes a published message to every subscriber
//     before it answers the PUBLISH, and answers a subscriber's commands in order, so by the
//     PONG every invalidation published before the lookup began has been handled here. Without
//     it, a request reaching this replica just after a revocation returned on another could
//     still be let through;
//   - the lease, so that a hit needs no round trip of its own: while entries are cached a PING
//     goes out every LEASE_ROUND_TRIP_MS, and a hit within LEASE_MS of the sending of the newest
//     answered one counts as confirmed. In exchange `invalidate` returns only LEASE_MS (plus a
//     margin) after its PUBLISH was answered. Why that is enough: a request handled at t after
//     the revocation returned (t > publish + LEASE_MS) is served from memory only if a PING
//     sent at t0 > t - LEASE_MS > publish was answered, so Redis had written the message to
//     this connection before that PONG. A replica whose Redis link or event loop is too slow to
//     keep its lease falls back to one barrier per lookup, never to less;
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
import { LEASE_MS, LEASE_ROUND_TRIP_MS, outwaitLease } from '../../platform/confirmation-lease.js';

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
  let live = false;
  let closed = false;
  let subscriptions = 0;
  // Bumped by every invalidation and every loss of the subscription.
  let epoch = 0;
  // The barrier PING under way, and the one after it, shared by every lookup that began meanwhile
  // (the one under way may have been sent before their invalidation was published).
  let current: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  // performance.now() when the newest barrier PING answered on the current subscription was sent.
  let confirmedAt = -Infinity;
  let leaseTimer: NodeJS.Timeout | undefined;
  // When the cache was last read or filled: an idle replica stops renewing its lease.
  let lastUsedAt = -Infinity;

  function roundTrip(sub: Redis): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const sent = performance.now();
    const subscription = subscriptions;
    const answered = () => {
      // A PING resent on a new connection after a reconnect vouches for nothing before it.
      if (live && subscription === subscriptions && sent > confirmedAt) confirmedAt = sent;
      return live;
    };
    const unanswered = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 2 * HEARTBEAT_MS); });
    const trip = Promise.race([sub.ping().then(answered, () => false), unanswered]).finally(() => {
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
    confirmedAt = -Infinity;
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
    // A half-open connection sends no 'close': a barrier PING unanswered within 2 periods counts
    // as down, and the connection is dropped and made again (its 'ready' subscribes afresh).
    heartbeat = setInterval(() => {
      if (!live) return;
      const subscription = subscriptions;
      void barrier().then((answered) => {
        if (answered || !live || closed || subscription !== subscriptions) return;
        down();
        sub.disconnect(true);
      });
    }, HEARTBEAT_MS);
    heartbeat.unref();
    leaseTimer = setInterval(() => {
      if (live && entries.size > 0 && performance.now() - lastUsedAt < ttlMs) void barrier();
    }, LEASE_ROUND_TRIP_MS);
    leaseTimer.unref();
  }

  /**
   * A live entry once it is confirmed: within the lease at once, otherwise after a barrier of its
   * own; undefined when the barrier delivered its invalidation or cannot be had (the caller reads
   * PostgreSQL then).
   */
  async function get(prefix: string): Promise<T | undefined> {
    const entry = live ? entries.get(prefix) : undefined;
    if (!entry) return undefined;
    if (entry.until <= Date.now()) {
      entries.delete(prefix);
      return undefined;
    }
    lastUsedAt = performance.now();
    if (lastUsedAt - confirmedAt < LEASE_MS) return entry.value;
    // The barrier may deliver this key's invalidation, or the subscription go down: only the
    // same entry, still live, counts as confirmed.
    const ok = await barrier();
    return ok && live && entries.get(prefix) === entry && entry.until > Date.now() ? entry.value : undefined;
  }

  return {
    /**
     * Whether the cache is in use (subscribed; false: every lookup reads PostgreSQL), how often it
     * (re)subscribed, and whether a hit now would be confirmed by the lease (no PING of its own).
     */
    status: () => ({ live, subscriptions, entries: entries.size, leased: live && performance.now() - confirmedAt < LEASE_MS }),

    /** The epoch to hand back to `set`: a lookup that overlapped an invalidation is not cached. */
    begin(): number {
      start();
      return epoch;
    },

    get,

    set(prefix: string, value: T, since: number): void {
      if (!live || since !== epoch) return;
      lastUsedAt = performance.now();
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      entries.set(prefix, { value, until: Date.now() + ttlMs });
    },

    /**
     * Drops a key (`k:<id>`) or every key of a user (`u:<id>`) here at once and on every other
     * replica through the channel. Called after the change committed; returns once no replica
     * can serve the old entry any more (the lease: LEASE_MS after the publish, when anyone
     * subscribes). A failed publish is retried; if it still fails, other replicas hold the old
     * entry for TTL_MS at most.
     */
    async invalidate(message: `k:${string}` | `u:${string}`): Promise<void> {
      drop(message);
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const receivers = await redis.publish(channel, message);
          if (receivers > 0) await outwaitLease();
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
      clearInterval(leaseTimer);
      entries.clear();
      if (subscriber) {
        await subscriber.quit().catch(() => {});
        subscriber.disconnect();
      }
    },
  };
}

export type KeyCache<T extends CachedKey> = ReturnType<typeof createKeyCache<T>>;
