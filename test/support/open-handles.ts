// The end-of-run check (issue 16, "Also"): sockets, servers, child processes or timers still open
// after every test and the shared app have closed mean something was never cleaned up. With
// mocha's `exit: true` such a leak never stalls the run, so it would go unnoticed; this makes it
// fail the run instead, naming what is left (with the peer address of each socket).
const watched = new Set(['TCPSocketWrap', 'TCPServerWrap', 'TCPWrap', 'PipeWrap', 'PipeServerWrap', 'ProcessWrap', 'UDPWrap', 'Timeout', 'TLSWrap']);

export type ResourceCounts = Map<string, number>;

export function countResources(): ResourceCounts {
  const counts: ResourceCounts = new Map();
  for (const name of process.getActiveResourcesInfo()) if (watched.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** What is open now beyond `baseline` (stdio pipes and the like exist from the start). */
export function leftOver(baseline: ResourceCounts): string[] {
  const now = countResources();
  return [...now].filter(([name, n]) => n > (baseline.get(name) ?? 0)).map(([name, n]) => `${n - (baseline.get(name) ?? 0)} × ${name}`);
}

/** Peer addresses of open sockets, to say which client leaked (6379: Redis, 5432: PostgreSQL). */
export function describeSockets(): string[] {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  return handles.flatMap((handle) => {
    const socket = handle as { remoteAddress?: string; remotePort?: number; localPort?: number; constructor?: { name?: string } };
    if (socket.remotePort) return [`${socket.constructor?.name ?? 'socket'} to ${socket.remoteAddress}:${socket.remotePort}`];
    const server = handle as { address?: () => { port?: number } | string | null; listening?: boolean };
    if (server.listening && typeof server.address === 'function') {
      const address = server.address();
      return [`server listening on ${typeof address === 'string' ? address : address?.port}`];
    }
    return [];
  });
}

/**
 * Waits up to `graceMs` for closing sockets to finish, yielding with setImmediate (no timer of its
 * own), and returns what is still open.
 */
export async function waitForNoLeftovers(baseline: ResourceCounts, graceMs: number): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = leftOver(baseline);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
