// The silence watchdog every provider call runs under (relay calls and chats): it aborts the call
// when the provider is silent for too long, before its response or between two chunks.

/** Fires when the provider is silent for `ms` (before its response or between two chunks), or the client leaves. */
export function watchdog(ms: number) {
  const controller = new AbortController();
  // One timer per call, re-armed in place for each chunk (refresh) rather than made anew.
  const timer = setTimeout(() => controller.abort('upstream_timeout'), ms);
  let stopped = false;
  return {
    signal: controller.signal,
    poke: () => { if (!stopped) timer.refresh(); },
    stop: () => { stopped = true; clearTimeout(timer); },
    clientLeft: () => controller.abort('client_abort'),
    get timedOut() { return controller.signal.aborted && controller.signal.reason === 'upstream_timeout'; },
    get clientGone() { return controller.signal.aborted && controller.signal.reason === 'client_abort'; },
  };
}
