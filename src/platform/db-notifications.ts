// PostgreSQL LISTEN/NOTIFY on one dedicated connection per process, opened on first use.
// Subscribers are told when the subscription is up and when it is down (connection lost, a
// heartbeat unanswered, closing): while it is down, notifications may be missed, so anything a
// subscriber keeps because "a notification would tell me otherwise" must not be trusted then.
//
// PostgreSQL delivers a notification to the server session that LISTENed. A transaction pooler
// (PgBouncer in transaction mode) runs each query in whichever server session is free: LISTEN
// succeeds, every round trip is answered, and the notifications reach a server session no client
// is linked to, where PgBouncer drops them ("got packet 'A' from server when not linked"), so
// caches would go on trusting entries another replica changed. Two checks catch a pooler:
//   - on connecting, a notification sent from a second connection must arrive before the next
//     answer on this one (behind a pooler the listening session is idle, unlinked, when it comes),
//     and that connection must not have been given the listening session itself;
//   - every statement on the connection also returns its server session's pid, which must stay
//     the one the first LISTEN ran in (a pooler that hands the session to others sooner or later
//     answers from another one).
// Then the subscription is down (fail closed: nothing is cached), an error says why, and the
// checks run again a minute later.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from './logger.js';
import { LEASE_MS, LEASE_ROUND_TRIP_MS, outwaitLease } from './confirmation-lease.js';
import { withTimeout } from './with-timeout.js';

export interface NotificationHandlers {
  message(payload: string): void;
  /** true once LISTEN is in place (again); false whenever notifications may be missed from now on. */
  state(listening: boolean): void;
}

export interface DbNotifications {
  /** Subscribes to `channel`; returns the unsubscribe function. */
  listen(channel: string, handlers: NotificationHandlers): () => void;
  /**
   * Resolves once every notification of a transaction that committed before this call has been
   * handed to the subscribers; rejects when that cannot be known (subscription down, no answer).
   * It is one round trip on the listening connection: PostgreSQL delivers the notifications
   * pending for a session before its next query's answer, and a committed transaction's are
   * pending by the time its COMMIT returns. Calls made while one is under way share the next.
   */
  barrier(): Promise<void>;
  /**
   * The barrier without a round trip of its own (the lease): true while a round trip sent less
   * than LEASE_MS ago (src/platform/confirmation-lease.ts) has been answered on the current connection, so every
   * notification of a transaction that committed before it was sent has been handed over. While
   * it is asked, a round trip goes out every LEASE_ROUND_TRIP_MS to keep it; false means "use
   * barrier()". It covers a change only once its writer has waited `outwaitLease()` after
   * committing: a reader at t is vouched for by a round trip sent after t - LEASE_MS,
   * which is after the commit when the writer returned at commit + LEASE_MS + margin.
   */
  leased(): boolean;
  /** For a writer whose readers use `leased()`: resolves once no replica's lease predates its commit. */
  outwaitLease(): Promise<void>;
  close(): Promise<void>;
}

// A process that stopped asking stops renewing its lease.
const LEASE_IDLE_MS = 5_000;

export interface DbNotificationOptions {
  databaseUrl: string;
  logger: Logger;
  /** A round trip on the connection this often proves it alive; a silent outage is noticed within heartbeat + timeout. */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  reconnectMs?: number;
}

/** The listening connection is not a server session of its own (see the header). */
class PooledConnectionError extends Error {}
const POOLED_RETRY_MS = 60_000;

const identifier = (channel: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  return channel;
};

export function createDbNotifications({ databaseUrl, logger, heartbeatMs = 5000, heartbeatTimeoutMs = 2000, reconnectMs = 1000 }: DbNotificationOptions): DbNotifications {
  const subscribers = new Map<string, Set<NotificationHandlers>>();
  let client: pg.Client | undefined;
  /** The channels LISTENed on the current connection. */
  let listened = new Set<string>();
  let listening = false;
  let closed = false;
  let reconnect: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let waiting: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  let roundTrip: Promise<void> | undefined;
  // performance.now() when the newest round trip answered on the current connection was sent.
  let confirmedSentAt = -Infinity;
  let leaseAskedAt = -Infinity;
  let leaseTimer: NodeJS.Timeout | undefined;
  /** The server session each connection's first statement ran in. */
  const sessionPids = new WeakMap<pg.Client, number>();
  let poolerReported = false;

  const each = (fn: (h: NotificationHandlers, channel: string) => void) => {
    for (const [channel, set] of subscribers) for (const h of set) fn(h, channel);
  };
  const setListening = (value: boolean) => {
    if (listening === value) return;
    listening = value;
    each((h) => h.state(value));
  };

  /** Drops the connection (and says so); reconnects unless closing. Resolves once the socket is closed. */
  function down(current: pg.Client, why: unknown): Promise<void> {
    if (client !== current) return Promise.resolve();
    client = undefined;
    confirmedSentAt = -Infinity;
    clearInterval(heartbeat);
    heartbeat = undefined;
    setListening(false);
    current.removeAllListeners('notification');
    current.removeAllListeners('end');
    current.on('error', () => {});
    const ended = current.end().catch(() => {});
    for (const w of waiting.splice(0)) w.reject(new Error('database notifications are down'));
    const pooled = why instanceof PooledConnectionError;
    if (pooled && !poolerReported) {
      poolerReported = true;
      logger.error(
        { reason: why.message, fix: 'point DATABASE_URL at PostgreSQL itself or at a session-pooled connection' },
        'database notifications are off: DATABASE_URL goes through a transaction pooler, which drops them; the caches that rely on them are bypassed (every request reads PostgreSQL)',
      );
    }
    if (!closed) {
      if (!pooled) logger.warn({ err: why }, 'database notifications lost; reconnecting');
      reconnect = setTimeout(() => { reconnect = undefined; void connect(); }, pooled ? POOLED_RETRY_MS : reconnectMs);
    }
    return ended;
  }

  /** Runs `statement` (or only the check) and fails unless it ran in the connection's first server session. */
  async function inListeningSession(current: pg.Client, statement = ''): Promise<void> {
    const answer: pg.QueryResult | pg.QueryResult[] = await current.query(`${statement}${statement ? '; ' : ''}SELECT pg_backend_pid() AS pid`);
    const pid = Number((Array.isArray(answer) ? answer[answer.length - 1] : answer).rows[0].pid);
    const first = sessionPids.get(current);
    if (first === undefined) sessionPids.set(current, pid);
    else if (first !== pid) throw new PooledConnectionError(`the listening connection's statements ran in two server sessions (pids ${first} and ${pid})`);
  }

  /** Sends a notification from a second connection; it must have reached `current` by its next answer. */
  async function probeDelivery(current: pg.Client): Promise<void> {
    const channel = `custos_probe_${randomBytes(8).toString('hex')}`;
    const payload = randomBytes(8).toString('hex');
    let arrived = false;
    const probe = (message: pg.Notification) => {
      if (message.channel === channel && message.payload === payload) arrived = true;
    };
    current.on('notification', probe);
    const sender = new pg.Client({
      connectionString: databaseUrl, application_name: 'custos-notifications-probe', connectionTimeoutMillis: heartbeatTimeoutMs, query_timeout: heartbeatTimeoutMs,
    });
    sender.on('error', () => {});
    try {
      await inListeningSession(current, `LISTEN ${channel}`);
      await sender.connect();
      const { rows } = await sender.query('SELECT pg_backend_pid() AS pid, pg_notify($1, $2)', [channel, payload]);
      if (Number(rows[0].pid) === sessionPids.get(current)) throw new PooledConnectionError('a second connection was given the listening server session');
      // The round trip that must bring it (before UNLISTEN, which would make the session skip it).
      await inListeningSession(current);
      if (!arrived) throw new PooledConnectionError('a notification sent from another connection did not arrive');
      await inListeningSession(current, `UNLISTEN ${channel}`);
    } finally {
      current.off('notification', probe);
      await sender.end().catch(() => {});
    }
  }

  async function connect() {
    if (closed || client || subscribers.size === 0) return;
    const current = new pg.Client({ connectionString: databaseUrl, application_name: 'custos-notifications', keepAlive: true });
    client = current;
    current.on('error', (error) => down(current, error));
    current.on('end', () => down(current, new Error('connection ended')));
    current.on('notification', (message) => {
      for (const h of subscribers.get(message.channel) ?? []) h.message(message.payload ?? '');
    });
    listened = new Set();
    try {
      await current.connect();
      await withTimeout(probeDelivery(current), 2 * heartbeatTimeoutMs, 'database notifications: the delivery check did not finish');
      // Channels subscribed while this loop awaits are LISTENed before the subscription is up.
      for (let pending = [...subscribers.keys()]; pending.length; pending = [...subscribers.keys()].filter((c) => !listened.has(c))) {
        for (const channel of pending) {
          await inListeningSession(current, `LISTEN ${identifier(channel)}`);
          listened.add(channel);
        }
      }
    } catch (error) {
      down(current, error);
      return;
    }
    if (client !== current) return;
    // A silent outage (no RST) is noticed within heartbeat + timeout even without traffic.
    heartbeat = setInterval(() => { ping(current).catch(() => {}); }, heartbeatMs);
    setListening(true);
  }

  /** One round trip on the listening connection, bounded in time; a failure takes the subscription down. */
  async function ping(current: pg.Client): Promise<void> {
    const sent = performance.now();
    try {
      await withTimeout(inListeningSession(current), heartbeatTimeoutMs, 'database notifications: no answer');
      // An answer on a connection since replaced vouches for nothing received on the new one.
      if (client === current && listening && sent > confirmedSentAt) confirmedSentAt = sent;
    } catch (error) {
      await down(current, error);
      throw error;
    }
  }

  function nextRoundTrip() {
    const current = client;
    const batch = waiting;
    waiting = [];
    if (!current || !listening) {
      for (const w of batch) w.reject(new Error('database notifications are down'));
      return;
    }
    roundTrip = ping(current).then(
      () => { for (const w of batch) (client === current && listening ? w.resolve() : w.reject(new Error('database notifications are down'))); },
      (error: Error) => { for (const w of batch) w.reject(error); },
    ).finally(() => {
      roundTrip = undefined;
      if (waiting.length) nextRoundTrip();
    });
  }

  function barrier() {
    return new Promise<void>((resolve, reject) => {
      if (!listening) return reject(new Error('database notifications are down'));
      waiting.push({ resolve, reject });
      if (!roundTrip) nextRoundTrip();
    });
  }

  return {
    listen(channel, handlers) {
      identifier(channel);
      let set = subscribers.get(channel);
      if (!set) subscribers.set(channel, (set = new Set()));
      set.add(handlers);
      const current = client;
      if (!current) {
        if (!reconnect) void connect();
      } else if (listening && listened.has(channel)) {
        handlers.state(true);
      } else if (listening) {
        // A new channel on a live connection: up for its subscribers once its LISTEN is in place.
        inListeningSession(current, `LISTEN ${channel}`).then(() => {
          if (client !== current || !listening) return;
          listened.add(channel);
          for (const h of subscribers.get(channel) ?? []) h.state(true);
        }, (error: unknown) => down(current, error));
      } // else still connecting: connect() LISTENs every channel before it says the subscription is up
      return () => {
        set!.delete(handlers);
        handlers.state(false);
      };
    },
    barrier,
    leased() {
      const now = performance.now();
      leaseAskedAt = now;
      if (!leaseTimer && !closed) {
        leaseTimer = setInterval(() => {
          if (listening && !roundTrip && performance.now() - leaseAskedAt < LEASE_IDLE_MS) barrier().catch(() => {});
        }, LEASE_ROUND_TRIP_MS);
        leaseTimer.unref();
      }
      return listening && now - confirmedSentAt < LEASE_MS;
    },
    outwaitLease,
    async close() {
      closed = true;
      clearInterval(leaseTimer);
      clearTimeout(reconnect);
      reconnect = undefined;
      if (client) await down(client, new Error('closing'));
    },
  };
}
