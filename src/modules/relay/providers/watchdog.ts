// The silence watchdog every provider call runs under (relay calls and chats): it aborts the call
// when the provider is silent for too long, before its response or between two chunks.
import type { CallSignal } from './provider-types.js';

type AbortReason = 'upstream_timeout' | 'client_abort';

/**
 * Fires when the provider is silent for `ms` (before its response or between two chunks), or the
 * client leaves. It is its own signal rather than an AbortController's: Node builds every
 * AbortSignal with Object.setPrototypeOf, and with one per call V8's young-generation GC moved
 * each call's request and response objects to the old generation (bench/relay/gc-trace.ts).
 */
export class Watchdog implements CallSignal {
  private reason: AbortReason | undefined;
  private listeners: Array<() => void> = [];
  private stopped = false;
  // One timer per call, re-armed in place for each chunk (refresh) rather than made anew.
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.timer = setTimeout(() => this.abort('upstream_timeout'), ms);
  }

  get signal(): CallSignal { return this; }
  get aborted(): boolean { return this.reason !== undefined; }
  get timedOut(): boolean { return this.reason === 'upstream_timeout'; }
  get clientGone(): boolean { return this.reason === 'client_abort'; }

  addEventListener(_type: 'abort', listener: () => void): void { this.listeners.push(listener); }
  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at !== -1) this.listeners.splice(at, 1);
  }

  /** The provider said something: the silence starts again. */
  poke(): void { if (!this.stopped) this.timer.refresh(); }
  /** The call is over: no timeout any more (a client that leaves still aborts). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
  clientLeft(): void { this.abort('client_abort'); }

  private abort(reason: AbortReason): void {
    if (this.reason) return;
    this.reason = reason;
    // An aborted call has no silence left to time: a late poke() must not re-arm the timer.
    this.stop();
    for (const listener of this.listeners.splice(0)) listener();
  }
}

export const watchdog = (ms: number) => new Watchdog(ms);
