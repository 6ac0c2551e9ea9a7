// What every provider adapter offers the relay service: an OpenAI-shaped chat completion, whole
// or as a stream of OpenAI chunk events, plus the usage it saw. Adapters translate wire formats
// and own nothing else (no logging, no pricing, no keys).
import type { CatalogueModel } from '../relay-catalogue.js';
import type { RelayReason } from '../relay-types.js';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

export interface ProviderTarget {
  baseUrl: string;
  apiKey: string;
}

/** What cancels a provider call: the watchdog (watchdog.ts), or an AbortController's signal. */
export interface CallSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface ChatCall {
  model: CatalogueModel;
  /** The client's OpenAI request body (model replaced by the upstream name by the adapter). */
  body: Record<string, unknown>;
  target: ProviderTarget;
  signal: CallSignal;
}

/** One event for the client: its exact SSE bytes, and what the relay needs to know about it. */
export interface StreamEvent {
  raw: string;
  /** The usage-only chunk the relay asked for (stream_options.include_usage). */
  usageOnly?: boolean;
  /** Characters of generated text in the event, to estimate tokens of an aborted stream. */
  outputChars: number;
}

export interface ChatStream {
  events: AsyncIterable<StreamEvent>;
  /** Usage reported so far (final once `events` is exhausted). */
  usage(): Usage | null;
}

/**
 * What a stream's events generator reports as it reads. The adapters' generators live at module
 * level and are handed the call's facts and one of these: an async generator function declared
 * inside each call (a new closure per stream) made V8 keep about 6 KiB of every stream past
 * young-generation collections, doubling their pauses (bench/relay/gc-trace.ts --stream).
 */
export interface StreamTally {
  usage: Usage | null;
}

type EventsReader = (body: AsyncIterable<Uint8Array>, modelId: string, tally: StreamTally) => AsyncGenerator<StreamEvent>;

/** A provider stream read by one of the adapters' module-level generators, with its usage so far. */
export function talliedStream(read: EventsReader, body: AsyncIterable<Uint8Array>, modelId: string): ChatStream {
  const tally: StreamTally = { usage: null };
  return { events: read(body, modelId, tally), usage: () => tally.usage };
}

export interface ProviderAdapter {
  complete(call: ChatCall): Promise<{ body: Record<string, unknown>; usage: Usage | null }>;
  stream(call: ChatCall): Promise<ChatStream>;
  embed?(call: ChatCall): Promise<{ body: Record<string, unknown>; usage: Usage | null }>;
  /** Why this provider cannot carry a (schema-valid) request, checked before anything is reserved. */
  refuse?(kind: 'chat' | 'embedding', body: Record<string, unknown>): string | undefined;
}

/**
 * A provider failure, described only by a status and a fixed reason: the upstream body is never
 * read into it, since providers echo prompts in their error messages.
 */
export class UpstreamError extends Error {
  constructor(readonly reason: Exclude<RelayReason, 'ok' | 'client_abort'>, readonly upstreamStatus: number | null) {
    super(`upstream ${reason}${upstreamStatus ? ` (${upstreamStatus})` : ''}`);
    this.name = 'UpstreamError';
  }
}
