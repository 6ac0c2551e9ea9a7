// What a bearer token resolved to, kept in process memory for a few seconds, because a session
// lookup per request (a PostgreSQL round trip and a decryption) was most of the cost of an
// authenticated request (issue 15). Revocation still takes effect at once on every replica:
// - every change that can alter a resolution (a session revoked, expired by hand, its factors
//   changed; the owner locked, disabled, scheduled for deletion or deleted, its 2FA or role
//   changed; its data key destroyed) is announced by a trigger on commit
//   (migrations/*_session_change_notify.ts), and each replica drops the owner's entries when the
//   notification arrives; and before an entry is used, one shared round trip on the listening
//   connection (DbNotifications.barrier) makes sure every notification of a transaction that
//   committed before the request arrived has been handled: a revocation whose COMMIT returned on
//   any replica is seen by the next request on every replica, as without the cache;
// - fail closed: while the subscription is not known to be up (connecting, connection lost,
//   heartbeat unanswered) nothing is served from the cache or put in it; it is emptied whenever
//   the subscription goes down, since notifications may have been missed;
// - a lookup that overlapped a notification is not cached (the generation check), so a read that
//   began before a revocation committed cannot be stored after it;
// - each entry lives at most `ttlMs`, and never past the session's absolute or idle expiry.
// Only this process's memory holds the entries (principal and account row); nothing is written
// to Redis or anywhere else.
import type { DbNotifications } from '../../platform/db-notifications.js';

export const SESSION_CHANGE_CHANNEL = 'custos_session_changed';

interface Entry<T> {
  ownerId: string;
  value: T;
  expiresAt: number;
}

export interface SessionCacheOptions {
  notifications: DbNotifications;
  ttlMs: number;
  maxEntries?: number;
}

export function createSessionCache<T>({ notifications, ttlMs, maxEntries = 10_000 }: SessionCacheOptions) {
  const entries = new Map<string, Entry<T>>();
  const keysByOwner = new Map<string, Set<string>>();
  let listening = false;
  let generation = 0;
  let subscribed = false;

  function remove(key: string) {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    const keys = keysByOwner.get(entry.ownerId);
    keys?.delete(key);
    if (keys?.size === 0) keysByOwner.delete(entry.ownerId);
  }
  function evictOwner(ownerId: string) {
    generation += 1;
    for (const key of keysByOwner.get(ownerId) ?? []) entries.delete(key);
    keysByOwner.delete(ownerId);
  }
  function clear() {
    generation += 1;
    entries.clear();
    keysByOwner.clear();
  }

  function subscribe() {
    if (subscribed || ttlMs <= 0) return;
    subscribed = true;
    notifications.listen(SESSION_CHANGE_CHANNEL, {
      message: (payload) => (payload === '*' ? clear() : evictOwner(payload)),
      state: (up) => {
        clear();
        listening = up;
      },
    });
  }

  return {
    /** A live entry, or undefined (always undefined while the subscription is not up). */
    async get(key: string): Promise<T | undefined> {
      subscribe();
      if (!listening || !entries.has(key)) return undefined;
      try {
        await notifications.barrier();
      } catch {
        return undefined; // cannot know what was missed: read the database
      }
      // The barrier may have delivered this owner's eviction, or the subscription gone down.
      const entry = listening ? entries.get(key) : undefined;
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        remove(key);
        return undefined;
      }
      return entry.value;
    },
    /** Whether a live entry is held for `key` (usable once the subscription is up). */
    has: (key: string) => listening && (entries.get(key)?.expiresAt ?? 0) > Date.now(),
    /** Taken before the database read whose result may be stored. */
    generation: () => generation,
    /**
     * Stores a resolution read after `since` was taken, for at most ttl and `liveMs` (the
     * session's own remaining life); skipped when any change was announced in between.
     */
    set(key: string, ownerId: string, value: T, since: number, liveMs: number) {
      if (!listening || since !== generation || liveMs <= 0) return;
      if (entries.size >= maxEntries && !entries.has(key)) remove(entries.keys().next().value as string);
      remove(key);
      entries.set(key, { ownerId, value, expiresAt: Date.now() + Math.min(ttlMs, liveMs) });
      let keys = keysByOwner.get(ownerId);
      if (!keys) keysByOwner.set(ownerId, (keys = new Set()));
      keys.add(key);
    },
  };
}

export type SessionCache<T> = ReturnType<typeof createSessionCache<T>>;
