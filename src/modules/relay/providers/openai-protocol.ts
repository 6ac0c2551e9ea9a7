// OpenAI's Chat Completions protocol, spoken by OpenAI and xAI: the request is forwarded with the
// upstream model name, the stream's bytes pass through event by event, and usage comes from the
// final usage chunk the relay always asks for (stream_options.include_usage).
import { readSse } from './sse.js';
import { UpstreamError, type ChatCall, type ChatStream, type ProviderAdapter, type StreamEvent, type Usage } from './provider-types.js';

interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export const usageFromOpenAi = (u: OpenAiUsage | null | undefined): Usage | null => (u
  ? { inputTokens: u.prompt_tokens ?? 0, outputTokens: u.completion_tokens ?? 0, cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0 }
  : null);

/** Maps a non-2xx provider status to a fixed reason; the body is discarded unread. */
export async function refuseUpstream(response: Response): Promise<never> {
  await response.body?.cancel().catch(() => {});
  throw new UpstreamError(response.status === 429 ? 'upstream_rate_limited' : 'upstream_error', response.status);
}

/** fetch with the relay's failure vocabulary: an abort is rethrown for the caller to classify. */
export async function upstreamFetch(url: string, init: RequestInit & { signal: AbortSignal }): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (init.signal.aborted) throw error;
    throw new UpstreamError('upstream_unreachable', null);
  }
}

export function createOpenAiProtocolAdapter(): ProviderAdapter {
  const post = (call: ChatCall, path: string, body: unknown) => upstreamFetch(`${call.target.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${call.target.apiKey}`, accept: 'application/json, text/event-stream' },
    body: JSON.stringify(body),
    signal: call.signal,
  });

  async function json(response: Response): Promise<Record<string, unknown>> {
    if (!response.ok) return refuseUpstream(response);
    try {
      return await response.json() as Record<string, unknown>;
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new UpstreamError('upstream_error', response.status);
    }
  }

  return {
    async complete(call) {
      const body = await json(await post(call, '/chat/completions', { ...call.body, model: call.model.upstreamModel, stream: false }));
      return { body, usage: usageFromOpenAi(body.usage as OpenAiUsage) };
    },

    async embed(call) {
      const body = await json(await post(call, '/embeddings', { ...call.body, model: call.model.upstreamModel }));
      return { body, usage: usageFromOpenAi(body.usage as OpenAiUsage) };
    },

    async stream(call): Promise<ChatStream> {
      const clientOptions = (call.body.stream_options ?? {}) as Record<string, unknown>;
      const response = await post(call, '/chat/completions', {
        ...call.body,
        model: call.model.upstreamModel,
        stream: true,
        stream_options: { ...clientOptions, include_usage: true },
      });
      if (!response.ok || !response.body) return refuseUpstream(response);
      let usage: Usage | null = null;
      async function* events(): AsyncGenerator<StreamEvent> {
        for await (const event of readSse(response.body!)) {
          if (event.data === '[DONE]') {
            yield { raw: event.raw, outputChars: 0 };
            continue;
          }
          let chunk: { choices?: Array<{ delta?: { content?: string | null; tool_calls?: Array<{ function?: { arguments?: string } }> } }>; usage?: OpenAiUsage | null; error?: unknown };
          try {
            chunk = JSON.parse(event.data);
          } catch {
            throw new UpstreamError('stream_error', null);
          }
          // A provider's mid-stream error event carries its own text: never forwarded.
          if (chunk.error) throw new UpstreamError('stream_error', null);
          if (chunk.usage) usage = usageFromOpenAi(chunk.usage);
          let outputChars = 0;
          for (const choice of chunk.choices ?? []) {
            outputChars += choice.delta?.content?.length ?? 0;
            for (const tool of choice.delta?.tool_calls ?? []) outputChars += tool.function?.arguments?.length ?? 0;
          }
          yield { raw: event.raw, outputChars, usageOnly: Boolean(chunk.usage) && (chunk.choices?.length ?? 0) === 0 };
        }
      }
      return { events: events(), usage: () => usage };
    },
  };
}
