// Leases on durable jobs (privacy requests, backup runs): the row in PostgreSQL names its holder
// and an expiry; the holder renews it while it works and loses it when someone else took the
// job over (after expiry) or the job was cancelled. BullMQ's own lock is not enough: it expires
// under a long job, and then a second worker runs the same job at once.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor(what: string) {
    super(`${what}: this worker no longer holds the job's lease (taken over after it expired, or cancelled)`);
  }
}

/** "host/pid/random": an operator can tell which process holds a lease, and two claims never share one. */
export const newLeaseOwner = () => `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;

export interface HeldLease {
  readonly owner: string;
  readonly lost: boolean;
  /** Aborted when the lease is lost, so a long step (an export stream) stops at once. */
  readonly signal: AbortSignal;
  /** Throws LeaseLostError once a renewal has failed. */
  assertHeld(): void;
  stop(): void;
}

/**
 * Renews the lease every third of its length until stopped. A renewal that finds the lease gone
 * marks it lost (and aborts `signal`); a renewal that errors (database briefly away) is retried
 * at the next tick, and if the lease expires meanwhile the next one finds it gone.
 */
export function keepLeaseAlive(owner: string, what: string, leaseMs: number, renew: () => Promise<boolean>): HeldLease {
  const controller = new AbortController();
  let lost = false;
  let renewing = false;
  const timer = setInterval(async () => {
    if (renewing || lost) return;
    renewing = true;
    try {
      if (!(await renew())) {
        lost = true;
        clearInterval(timer);
        controller.abort(new LeaseLostError(what));
      }
    } catch {
      // retried at the next tick
    } finally {
      renewing = false;
    }
  }, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    owner,
    get lost() { return lost; },
    signal: controller.signal,
    assertHeld() { if (lost) throw new LeaseLostError(what); },
    stop() { clearInterval(timer); },
  };
}
