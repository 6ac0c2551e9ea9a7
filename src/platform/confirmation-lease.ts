// The confirmation lease a process-local cache uses to skip a round trip per hit (the relay's
// key cache over Redis, the provider-token cache over PostgreSQL notifications): while the cache
// is in use a round trip goes out every LEASE_ROUND_TRIP_MS on the channel that carries its
// invalidations, and a hit within LEASE_MS of the sending of the newest answered one counts as
// confirmed. A writer whose change readers must see at once returns only after outwaitLease():
// a reader at t is then vouched for by a round trip sent after t - LEASE_MS, which is after the
// change was published or committed, so its invalidation was handed over before that answer.

export const LEASE_MS = 250;
export const LEASE_ROUND_TRIP_MS = 50;
// What a writer waits beyond the lease: timers may fire a little early or late on either side.
const LEASE_MARGIN_MS = 25;

/** For a writer whose readers hold leases: resolves once no lease taken before the call can vouch for what it changed. */
export const outwaitLease = () => new Promise<void>((resolve) => setTimeout(resolve, LEASE_MS + LEASE_MARGIN_MS));
