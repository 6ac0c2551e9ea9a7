// The silence watchdog every provider call runs under (relay calls and chats): it aborts the call
// when the provider is silent for too long, before its response or between two chunks.

/** Fires when the provider is silent for `ms` (before its response or between two chunks), or the client leaves. */
export function watchdog(ms: number) {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const poke = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort('upstream_timeout'), ms);
  };
  poke();
  return {
    signal: controller.signal,
    poke,
    stop: () => clearTimeout(timer),
    clientLeft: () => controller.abort('client_abort'),
    get timedOut() { return controller.signal.aborted && controller.signal.reason === 'upstream_timeout'; },
    get clientGone() { return controller.signal.aborted && controller.signal.reason === 'client_abort'; },
  };
}
