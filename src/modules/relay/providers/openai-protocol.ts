// OpenAI's Chat Completions protocol, spoken by OpenAI and xAI: the request is forwarded with the
// upstream model name, the stream's bytes pass through event by event, and usage comes from the
// final usage chunk the relay always asks for (stream_options.include_usage). Answers name the
// model as the client did (`openai/gpt-4o-mini`), not the provider's own name for it.
import { readSse, sseData } from './sse.js';
import { talliedStream, UpstreamError, type ChatCall, type ChatStream, type ProviderAdapter, type StreamEvent, type StreamTally, type Usage } from './provider-types.js';
import type { UpstreamClient, UpstreamResponse } from './upstream-http.js';

interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

export const usageFromOpenAi = (u: OpenAiUsage | null | undefined): Usage | null => (u
  ? { inputTokens: u.prompt_tokens ?? 0, outputTokens: u.completion_tokens ?? 0, cachedTokens: u.prompt_tokens_details?.cached_tokens ?? 0 }
  : null);

/** Maps a non-2xx provider status to a fixed reason; the body is discarded unread. */
export async function refuseUpstream(response: UpstreamResponse): Promise<never> {
  response.cancel();
  throw new UpstreamError(response.status === 429 ? 'upstream_rate_limited' : 'upstream_error', response.status);
}

/** A successful answer's JSON body; a failure status is refused without reading the body. */
export async function upstreamJson(response: UpstreamResponse): Promise<Record<string, unknown>> {
  if (!response.ok) return refuseUpstream(response);
  try {
    return await response.json() as Record<string, unknown>;
  } catch (error) {
    if ((error as Error).name === 'AbortError' || error instanceof UpstreamError) throw error;
    throw new UpstreamError('upstream_error', response.status);
  }
}

/** The provider's events as the client's, read as they arrive (see StreamTally for why it is not a closure). */
async function* openAiEvents(body: AsyncIterable<Uint8Array>, modelId: string, tally: StreamTally): AsyncGenerator<StreamEvent> {
  for await (const event of readSse(body)) {
    if (event.data === '[DONE]') {
      yield { raw: event.raw, outputChars: 0 };
      continue;
    }
    let chunk: { model?: string; choices?: Array<{ delta?: { content?: string | null; tool_calls?: Array<{ function?: { arguments?: string } }> } }>; usage?: OpenAiUsage | null; error?: unknown };
    try {
      chunk = JSON.parse(event.data);
    } catch {
      throw new UpstreamError('stream_error', null);
    }
    // A provider's mid-stream error event carries its own text: never forwarded.
    if (chunk.error) throw new UpstreamError('stream_error', null);
    if (chunk.usage) tally.usage = usageFromOpenAi(chunk.usage);
    let outputChars = 0;
    for (const choice of chunk.choices ?? []) {
      outputChars += choice.delta?.content?.length ?? 0;
      for (const tool of choice.delta?.tool_calls ?? []) outputChars += tool.function?.arguments?.length ?? 0;
    }
    // The chunk as the provider sent it, but naming the model as the client asked for it.
    const raw = chunk.model === undefined || chunk.model === modelId ? event.raw : sseData({ ...chunk, model: modelId });
    yield { raw, outputChars, usageOnly: Boolean(chunk.usage) && (chunk.choices?.length ?? 0) === 0 };
  }
}

export function createOpenAiProtocolAdapter(client: UpstreamClient): ProviderAdapter {
  const post = (call: ChatCall, path: string, body: unknown) => client.request(`${call.target.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${call.target.apiKey}`, accept: 'application/json, text/event-stream' },
    body: JSON.stringify(body),
    signal: call.signal,
  });

  return {
    async complete(call) {
      const body = await upstreamJson(await post(call, '/chat/completions', { ...call.body, model: call.model.upstreamModel, stream: false }));
      body.model = call.model.id;
      return { body, usage: usageFromOpenAi(body.usage as OpenAiUsage) };
    },

    async embed(call) {
      const body = await upstreamJson(await post(call, '/embeddings', { ...call.body, model: call.model.upstreamModel }));
      body.model = call.model.id;
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
      return talliedStream(openAiEvents, response.body, call.model.id);
    },
  };
}
