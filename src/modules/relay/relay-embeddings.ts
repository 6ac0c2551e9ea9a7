// Embeddings for Custos' own product features (the smart-folder knowledge base), through the same
// provider adapters as the /v1 relay: catalogue lookup, the provider credential, the adapter's
// `embed`, a timeout, and every upstream failure reduced to a status and a fixed reason (a
// provider's error body can quote the text it was given, so it is never read). No API key is
// involved: the caller is the service acting for a signed-in user, not a customer's SDK. What a
// call used is charged to that user's credit ledger, like a chat completion.
import { costOf } from './relay-calls.js';
import type { Catalogue, CatalogueModel, ProviderName } from './relay-catalogue.js';
import { UpstreamError, type ProviderAdapter, type ProviderTarget, type Usage } from './providers/provider-types.js';

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  vectors: Float32Array[];
  dimensions: number;
  usage: Usage | null;
}

export interface EmbedderDeps {
  catalogue: Pick<Catalogue, 'find'>;
  adapters: Record<ProviderName, ProviderAdapter | undefined>;
  /** The credential for this user's call: their own provider token when stored, else the platform's. */
  target(provider: ProviderName, userId: string): Promise<ProviderTarget | null>;
  upstreamTimeoutMs: number;
  /** Charges the user's credit ledger (relay service's chargeUsage). */
  charge(userId: string, costMicrocents: number, description: string): Promise<void>;
}

/** Why an embedding call failed, without any upstream text: 'not_configured' and 'unknown_model' are the operator's to fix. */
export class EmbeddingError extends Error {
  override name = 'EmbeddingError';
  constructor(readonly reason: 'unknown_model' | 'not_configured' | UpstreamError['reason'], readonly upstreamStatus: number | null = null) {
    super(`embedding failed: ${reason}${upstreamStatus ? ` (${upstreamStatus})` : ''}`);
  }
  /** Transient failures are worth a retry; a missing model or credential is not (until an operator acts). */
  get transient(): boolean {
    return !['unknown_model', 'not_configured'].includes(this.reason) && !(this.upstreamStatus && [400, 401, 403, 404, 422].includes(this.upstreamStatus));
  }
}

/** OpenAI's `data[].embedding`: a JSON array, or base64 of little-endian float32 when asked for. */
function decodeEmbedding(raw: unknown): Float32Array {
  if (typeof raw === 'string') {
    const bytes = Buffer.from(raw, 'base64');
    if (bytes.length % 4 !== 0) throw new UpstreamError('upstream_error', null);
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
    return out;
  }
  if (Array.isArray(raw) && raw.every((x) => typeof x === 'number')) return Float32Array.from(raw as number[]);
  throw new UpstreamError('upstream_error', null);
}

export function createEmbedder(deps: EmbedderDeps) {
  function model(modelId: string): CatalogueModel {
    const found = deps.catalogue.find(modelId);
    if (!found || !found.kinds.includes('embedding')) throw new EmbeddingError('unknown_model');
    return found;
  }

  return {
    /** Checks that the model exists in the catalogue as an embedding model (at start and before a job). */
    model,
    async embedTexts(userId: string, modelId: string, texts: string[]): Promise<EmbeddingResult> {
      const chosen = model(modelId);
      const adapter = deps.adapters[chosen.provider];
      const target = await deps.target(chosen.provider, userId);
      if (!adapter?.embed || !target) throw new EmbeddingError('not_configured');
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort('upstream_timeout'), deps.upstreamTimeoutMs);
      let result: EmbeddingResult;
      try {
        const { body, usage } = await adapter.embed({ model: chosen, body: { input: texts, encoding_format: 'base64' }, target, signal: controller.signal });
        const data = Array.isArray(body.data) ? [...(body.data as Array<{ index?: number; embedding?: unknown }>)] : [];
        data.sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
        const vectors = data.map((d) => decodeEmbedding(d.embedding));
        const dimensions = vectors[0]?.length ?? 0;
        if (vectors.length !== texts.length || dimensions === 0 || vectors.some((v) => v.length !== dimensions)) throw new UpstreamError('upstream_error', null);
        result = { vectors, dimensions, usage };
      } catch (error) {
        if (controller.signal.aborted) throw new EmbeddingError('upstream_timeout');
        if (error instanceof UpstreamError) throw new EmbeddingError(error.reason, error.upstreamStatus);
        throw new EmbeddingError('upstream_unreachable');
      } finally {
        clearTimeout(timer);
      }
      // Charged once the vectors are in hand; a provider that reports no count (Gemini) by UTF-8
      // bytes / 4, as the relay does. A ledger that cannot be reached fails the call (retried).
      const used = result.usage ?? { inputTokens: Math.ceil(texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0) / 4), outputTokens: 0, cachedTokens: 0 };
      await deps.charge(userId, costOf(chosen, used), `Knowledge base embeddings (${chosen.id})`);
      return result;
    },
  };
}

export type Embedder = ReturnType<typeof createEmbedder>;
