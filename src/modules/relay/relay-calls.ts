// One relay call, start to finish: check the model and the key's allow-list, pick the provider
// credential for the key's environment, reserve the worst-case cost, forward, stream bytes back
// as they arrive, then settle the real cost and write one closed log record. Content lives only
// in this function's memory; every failure is reduced to a status and a fixed reason.
import type { KeyEnvironment } from './api-keys.js';
import type { Catalogue, CatalogueModel, ProviderName } from './relay-catalogue.js';
import { microcentsPerToken } from './relay-catalogue.js';
import { RelayError } from './relay-errors.js';
import type { ApiKeyCredential, RelayReason } from './relay-types.js';
import { spendPeriod, type SpendLimiter } from './spend-limiter.js';
import { sseData } from './providers/sse.js';
import { watchdog, type Watchdog } from './providers/watchdog.js';
import { UpstreamError, type ProviderAdapter, type ProviderTarget, type Usage } from './providers/provider-types.js';

/** Where a streamed answer goes (the HTTP response, in routes). */
export interface StreamSink {
  /** Sends the 200 and the event-stream headers. */
  start(): void;
  /** Resolves once the bytes are handed to the socket (waits for drain: flat memory with slow clients). */
  write(text: string): Promise<void>;
  end(): void;
  /** Called once if the client goes away before the end. */
  onAbort(listener: () => void): void;
}

export interface Settlement {
  key: ApiKeyCredential;
  model: CatalogueModel;
  status: number;
  reason: RelayReason;
  usage: Usage;
  latencyMs: number;
  costMicrocents: number;
  reservedMicrocents: number;
  period: string;
}

export interface CallDeps {
  catalogue: Catalogue;
  adapters: Record<ProviderName, ProviderAdapter | undefined>;
  limiter: Pick<SpendLimiter, 'reserve'>;
  /** The credential for a call: the key owner's own provider token when they stored one (live keys), else the platform's. */
  target(provider: ProviderName, environment: KeyEnvironment, userId: string): Promise<ProviderTarget | null>;
  settle(settlement: Settlement): Promise<void>;
  /** What a limit group spent in a period per the PostgreSQL ledger (seeds a missing Redis counter). */
  ledgerSpent(limitGroupId: string, period: string): Promise<number>;
  upstreamTimeoutMs: number;
  keepAliveMs: number;
}

export const costOf = (model: CatalogueModel, usage: Usage) => {
  const uncached = Math.max(0, usage.inputTokens - usage.cachedTokens);
  return Math.ceil(uncached * microcentsPerToken(model.input) + usage.cachedTokens * microcentsPerToken(model.cachedInput) + usage.outputTokens * microcentsPerToken(model.output));
};

// Upper bound on input tokens without a tokenizer: no tokenizer in use emits more than one token
// per byte of UTF-8, so the byte count never under-reserves.
const inputTokenBound = (body: Record<string, unknown>) => Buffer.byteLength(JSON.stringify(body.messages ?? body.input ?? ''), 'utf8') + 16;
// Tokens of a stream cut short, from the characters forwarded (≈4 per token, rounded up).
const estimateTokens = (chars: number) => Math.ceil(chars / 4);

function outputTokenBound(model: CatalogueModel, body: Record<string, unknown>): number {
  const cap = model.maxOutputTokens;
  const asked = Number(body.max_completion_tokens ?? body.max_tokens ?? cap);
  const choices = Math.max(1, Number(body.n ?? 1));
  return Math.min(Number.isFinite(asked) && asked > 0 ? asked : cap, cap) * choices;
}

const upstreamRelayError = (error: UpstreamError): RelayError => {
  switch (error.reason) {
    case 'upstream_rate_limited':
      return new RelayError(429, 'rate_limit_error', 'upstream_rate_limited', 'The provider is rate-limiting this model; retry shortly.', { 'Retry-After': '1' });
    case 'upstream_timeout':
      return new RelayError(504, 'timeout_error', 'upstream_timeout', 'The provider did not answer in time.');
    case 'upstream_unreachable':
      return new RelayError(502, 'api_error', 'upstream_unreachable', 'The provider could not be reached.');
    default: {
      const status = error.upstreamStatus;
      if (status && [400, 404, 413, 422].includes(status)) {
        return new RelayError(400, 'invalid_request_error', 'upstream_rejected', `The provider rejected the request (status ${status}). Its message is not relayed, because provider messages can quote your prompt; check the parameters against the provider's documentation.`);
      }
      return new RelayError(502, 'api_error', 'upstream_error', `The provider failed${status ? ` (status ${status})` : ''}.`);
    }
  }
};

export function createRelayCalls(deps: CallDeps) {
  async function prepare(key: ApiKeyCredential, body: Record<string, unknown>, kind: 'chat' | 'embedding') {
    const modelId = String(body.model);
    const model = deps.catalogue.find(modelId);
    if (!model || !model.kinds.includes(kind)) {
      throw new RelayError(404, 'not_found_error', 'model_not_found', `The model ${JSON.stringify(modelId.slice(0, 120))} is not offered for ${kind === 'chat' ? 'chat completions' : 'embeddings'}; GET /v1/models lists the ids (<provider>/<model>).`);
    }
    if (key.models && !key.models.includes(model.id)) {
      throw new RelayError(403, 'permission_error', 'model_not_allowed', `This key may use only ${key.models.join(', ')}.`);
    }
    const adapter = deps.adapters[model.provider];
    const target = await deps.target(model.provider, key.environment, key.userId);
    if (!adapter || !target || (kind === 'embedding' && !adapter.embed)) {
      throw new RelayError(503, 'api_error', 'provider_not_configured', `The operator has not configured ${model.provider} for ${key.environment} keys.`);
    }
    const refusal = adapter.refuse?.(kind, body);
    if (refusal) throw new RelayError(400, 'invalid_request_error', 'invalid_request', refusal);
    const period = spendPeriod();
    const reservedMicrocents = kind === 'chat'
      ? Math.ceil(inputTokenBound(body) * microcentsPerToken(model.input) + outputTokenBound(model, body) * microcentsPerToken(model.output))
      : Math.ceil(inputTokenBound(body) * microcentsPerToken(model.input));
    if (key.spendingLimitCents !== null) {
      const limit = key.spendingLimitCents * 1_000_000;
      let reservation = await deps.limiter.reserve(key.limitGroupId, period, reservedMicrocents, limit);
      if (reservation.missing) reservation = await deps.limiter.reserve(key.limitGroupId, period, reservedMicrocents, limit, await deps.ledgerSpent(key.limitGroupId, period));
      if (!reservation.ok) {
        throw new RelayError(402, 'insufficient_quota', 'spending_limit_reached', `This key's spending limit of ${key.spendingLimitCents} cents for ${period} (calendar month, UTC) would be exceeded by this call; raise the limit or wait for next month.`);
      }
    }
    return { model, adapter, target, period, reservedMicrocents };
  }

  const reasonOf = (error: unknown, guard: Watchdog): Exclude<RelayReason, 'ok'> => {
    if (guard.clientGone) return 'client_abort';
    if (guard.timedOut) return 'upstream_timeout';
    if (error instanceof UpstreamError) return error.reason;
    return 'stream_error';
  };

  async function whole(key: ApiKeyCredential, body: Record<string, unknown>, kind: 'chat' | 'embedding') {
    const started = performance.now();
    const prepared = await prepare(key, body, kind);
    const { model, adapter, target } = prepared;
    const guard = watchdog(deps.upstreamTimeoutMs);
    const settle = (status: number, reason: RelayReason, usage: Usage) => deps.settle({
      key, model, status, reason, usage, latencyMs: Math.round(performance.now() - started), costMicrocents: costOf(model, usage), reservedMicrocents: prepared.reservedMicrocents, period: prepared.period,
    });
    try {
      const call = { model, body, target, signal: guard.signal };
      const result = kind === 'chat' ? await adapter.complete(call) : await adapter.embed!(call);
      guard.stop();
      // Settled after the answer leaves: the client does not wait for the ledger write (the
      // service tracks it, and drains pending settlements on shutdown).
      void settle(200, 'ok', result.usage ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0 });
      return result.body;
    } catch (error) {
      guard.stop();
      const reason = reasonOf(error, guard);
      const failure = reason === 'upstream_timeout' ? new UpstreamError('upstream_timeout', null) : error instanceof UpstreamError ? error : new UpstreamError('upstream_error', null);
      const relayError = upstreamRelayError(failure);
      void settle(relayError.status, reason, { inputTokens: 0, outputTokens: 0, cachedTokens: 0 });
      throw relayError;
    }
  }

  async function stream(key: ApiKeyCredential, body: Record<string, unknown>, sink: StreamSink): Promise<void> {
    const started = performance.now();
    const prepared = await prepare(key, body, 'chat');
    const { model, adapter, target } = prepared;
    const clientWantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const guard = watchdog(deps.upstreamTimeoutMs);
    sink.onAbort(() => guard.clientLeft());
    let outputChars = 0;
    let stream: Awaited<ReturnType<ProviderAdapter['stream']>> | undefined;
    let started200 = false;
    let keepAlive: NodeJS.Timeout | undefined;
    let lastWrite = Date.now();
    const write = async (text: string) => {
      lastWrite = Date.now();
      await sink.write(text);
    };
    let status = 200;
    let reason: RelayReason = 'ok';
    try {
      stream = await adapter.stream({ model, body, target, signal: guard.signal });
      guard.poke();
      sink.start();
      started200 = true;
      keepAlive = setInterval(() => {
        if (Date.now() - lastWrite >= deps.keepAliveMs) void write(': keep-alive\n\n').catch(() => {});
      }, Math.max(25, Math.floor(deps.keepAliveMs / 2)));
      for await (const event of stream.events) {
        guard.poke();
        outputChars += event.outputChars;
        if (event.usageOnly && !clientWantsUsage) continue;
        await write(event.raw);
      }
    } catch (error) {
      reason = reasonOf(error, guard);
      const failure = reason === 'upstream_timeout' ? new UpstreamError('upstream_timeout', null)
        : error instanceof UpstreamError ? error : new UpstreamError(reason === 'client_abort' ? 'stream_error' : 'upstream_error', null);
      const relayError = upstreamRelayError(failure);
      status = reason === 'client_abort' ? 499 : relayError.status;
      if (!started200) {
        if (reason !== 'client_abort') {
          settleStream();
          throw relayError;
        }
      } else if (reason !== 'client_abort') {
        await write(sseData(relayError.body())).catch(() => {});
      }
    } finally {
      guard.stop();
      clearInterval(keepAlive);
    }
    if (reason !== 'client_abort') sink.end();
    settleStream();

    // Started, not awaited, as in whole(): the service tracks it (drain). Awaiting it held this
    // frame (the request, the upstream response and its readers) until the batch committed, 25 ms
    // or more after the answer ended.
    function settleStream() {
      // A stream that ended without a usage chunk (abort, timeout, provider fault) is charged
      // what was forwarded, estimated; never 0 for text the client received.
      const reported = stream?.usage();
      const usage = reported && reason === 'ok' ? reported : {
        inputTokens: reported?.inputTokens ?? (started200 ? Math.ceil(inputTokenBound(body) / 4) : 0),
        outputTokens: Math.max(reported?.outputTokens ?? 0, estimateTokens(outputChars)),
        cachedTokens: reported?.cachedTokens ?? 0,
      };
      void deps.settle({ key, model, status, reason, usage, latencyMs: Math.round(performance.now() - started), costMicrocents: costOf(model, usage), reservedMicrocents: prepared.reservedMicrocents, period: prepared.period });
    }
  }

  return {
    complete: (key: ApiKeyCredential, body: Record<string, unknown>) => whole(key, body, 'chat'),
    embed: (key: ApiKeyCredential, body: Record<string, unknown>) => whole(key, body, 'embedding'),
    stream,
  };
}

export type RelayCalls = ReturnType<typeof createRelayCalls>;
