// Google Gemini (generateContent / streamGenerateContent?alt=sse, embedContent /
// batchEmbedContents) behind the OpenAI protocol.
// Requests: system messages become systemInstruction, assistant turns role "model", tool calls
// functionCall parts and tool results functionResponse parts (named from the call they answer).
// Answers: text parts, functionCall parts as tool calls (each arrives whole, indexed in order),
// finish reasons mapped, usage from usageMetadata (cumulative in a stream: the last one counts;
// thinking tokens are output the customer pays for). Embeddings: one text goes to embedContent,
// a list to batchEmbedContents (100 texts a request, Gemini's limit); `dimensions` becomes
// outputDimensionality; vectors come back as floats or, when asked (the OpenAI SDK's default),
// base64 of little-endian float32. Gemini reports no token count for embeddings: input tokens
// are then estimated as UTF-8 bytes / 4, rounded up.
import { readSse } from './sse.js';
import { refuseUpstream, upstreamJson } from './openai-protocol.js';
import type { UpstreamClient } from './upstream-http.js';
import { chunkWriter, completionBody, parseArguments, textOf, type FinishReason, type OpenAiMessage, type OpenAiToolCall } from './openai-shapes.js';
import { talliedStream, UpstreamError, type ChatCall, type ChatStream, type ProviderAdapter, type StreamEvent, type StreamTally, type Usage } from './provider-types.js';

interface GeminiUsage { promptTokenCount?: number; candidatesTokenCount?: number; thoughtsTokenCount?: number; cachedContentTokenCount?: number }
interface GeminiPart { text?: string; thought?: boolean; functionCall?: { name: string; args?: unknown } }
interface GeminiResponse { candidates?: Array<{ content?: { parts?: GeminiPart[] }; finishReason?: string }>; usageMetadata?: GeminiUsage; error?: unknown }

const usageFrom = (u: GeminiUsage | undefined): Usage | null => (u
  ? { inputTokens: u.promptTokenCount ?? 0, outputTokens: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0), cachedTokens: u.cachedContentTokenCount ?? 0 }
  : null);

export const finishReason = (reason: string | undefined, hasToolCalls: boolean): FinishReason | null => {
  if (!reason) return null;
  if (hasToolCalls) return 'tool_calls';
  if (reason === 'MAX_TOKENS') return 'length';
  if (['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY'].includes(reason)) return 'content_filter';
  return 'stop';
};

function parts(content: OpenAiMessage['content']): Array<Record<string, unknown>> {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return (content ?? []).flatMap((p): Array<Record<string, unknown>> => {
    if (p.type === 'text') return [{ text: p.text ?? '' }];
    const url = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
    const data = url ? /^data:([^;]+);base64,(.*)$/s.exec(url) : null;
    return data ? [{ inlineData: { mimeType: data[1], data: data[2] } }] : [];
  });
}

export function toGeminiRequest(body: Record<string, unknown>, maxOutputTokens: number) {
  const system: string[] = [];
  const contents: Array<{ role: 'user' | 'model'; parts: Array<Record<string, unknown>> }> = [];
  const toolNames = new Map<string, string>();
  const push = (role: 'user' | 'model', p: Array<Record<string, unknown>>) => {
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...p);
    else contents.push({ role, parts: p });
  };
  for (const m of (body.messages ?? []) as OpenAiMessage[]) {
    if (m.role === 'system' || m.role === 'developer') system.push(textOf(m.content));
    else if (m.role === 'assistant') {
      for (const t of m.tool_calls ?? []) toolNames.set(t.id, t.function.name);
      push('model', [...parts(m.content), ...(m.tool_calls ?? []).map((t) => ({ functionCall: { name: t.function.name, args: parseArguments(t.function.arguments) } }))]);
    } else if (m.role === 'tool') {
      push('user', [{ functionResponse: { name: toolNames.get(m.tool_call_id ?? '') ?? 'tool', response: { content: textOf(m.content) } } }]);
    } else push('user', parts(m.content));
  }
  const tools = (body.tools as Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }> | undefined)
    ?.filter((t) => t.type === 'function').map((t) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters }));
  const stop = body.stop;
  return {
    contents,
    ...(system.length ? { systemInstruction: { parts: [{ text: system.join('\n\n') }] } } : {}),
    ...(tools?.length ? { tools: [{ functionDeclarations: tools }] } : {}),
    generationConfig: {
      maxOutputTokens: Number(body.max_completion_tokens ?? body.max_tokens ?? maxOutputTokens),
      ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
      ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
      ...(stop ? { stopSequences: Array.isArray(stop) ? stop : [stop] } : {}),
    },
  };
}

const EMBED_BATCH = 100;

/** The texts of an OpenAI embeddings input, or null when it is not text (token arrays). */
function embeddingTexts(input: unknown): string[] | null {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string')) return input as string[];
  return null;
}

const encodeVector = (values: number[], format: unknown) => (format === 'base64' ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values);

/** Gemini's streamGenerateContent as OpenAI chunks, read as they arrive (see StreamTally for why it is not a closure). */
async function* geminiEvents(body: AsyncIterable<Uint8Array>, modelId: string, tally: StreamTally): AsyncGenerator<StreamEvent> {
  const out = chunkWriter('chatcmpl-gemini', modelId);
  yield out.chunk({ role: 'assistant', content: '' });
  let tools = 0;
  let finish: FinishReason | null = null;
  for await (const event of readSse(body)) {
    let data: GeminiResponse;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new UpstreamError('stream_error', null);
    }
    if (data.error) throw new UpstreamError('stream_error', null);
    tally.usage = usageFrom(data.usageMetadata) ?? tally.usage;
    const candidate = data.candidates?.[0];
    for (const part of candidate?.content?.parts ?? []) {
      if (part.text && !part.thought) yield out.chunk({ content: part.text });
      if (part.functionCall) {
        yield out.chunk({ tool_calls: [{ index: tools, id: `call_${tools}`, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } }] });
        tools++;
      }
    }
    finish = finishReason(candidate?.finishReason, tools > 0) ?? finish;
  }
  if (!finish) throw new UpstreamError('stream_error', null);
  yield out.chunk({}, finish);
  if (tally.usage) yield out.usage(tally.usage);
  yield out.done();
}

export function createGeminiAdapter(client: UpstreamClient): ProviderAdapter {
  const post = (call: ChatCall, method: string, body: unknown = toGeminiRequest(call.body, call.model.maxOutputTokens)) => client.request(`${call.target.baseUrl}/models/${encodeURIComponent(call.model.upstreamModel)}:${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': call.target.apiKey },
    body: JSON.stringify(body),
    signal: call.signal,
  });

  return {
    refuse(kind, body) {
      if (kind === 'embedding' && !embeddingTexts(body.input)) return 'Gemini embeddings take text: "input" must be a string or a non-empty list of strings (token arrays are not supported for google/… models).';
      return undefined;
    },

    async embed(call) {
      const texts = embeddingTexts(call.body.input)!;
      const dimensions = typeof call.body.dimensions === 'number' ? { outputDimensionality: call.body.dimensions } : {};
      const vectors: number[][] = [];
      let reported = 0;
      let counted = true;
      if (typeof call.body.input === 'string') {
        const result = await upstreamJson(await post(call, 'embedContent', { content: { parts: [{ text: texts[0] }] }, ...dimensions })) as { embedding?: { values?: number[] }; usageMetadata?: GeminiUsage };
        vectors.push(result.embedding?.values ?? []);
        if (result.usageMetadata?.promptTokenCount === undefined) counted = false;
        reported += result.usageMetadata?.promptTokenCount ?? 0;
      } else {
        for (let i = 0; i < texts.length; i += EMBED_BATCH) {
          const requests = texts.slice(i, i + EMBED_BATCH).map((text) => ({ model: `models/${call.model.upstreamModel}`, content: { parts: [{ text }] }, ...dimensions }));
          const result = await upstreamJson(await post(call, 'batchEmbedContents', { requests })) as { embeddings?: Array<{ values?: number[] }>; usageMetadata?: GeminiUsage };
          if ((result.embeddings?.length ?? 0) !== requests.length) throw new UpstreamError('upstream_error', 200);
          for (const e of result.embeddings!) vectors.push(e.values ?? []);
          if (result.usageMetadata?.promptTokenCount === undefined) counted = false;
          reported += result.usageMetadata?.promptTokenCount ?? 0;
        }
      }
      const inputTokens = counted ? reported : texts.reduce((n, t) => n + Math.ceil(Buffer.byteLength(t, 'utf8') / 4), 0);
      const usage: Usage = { inputTokens, outputTokens: 0, cachedTokens: 0 };
      return {
        body: {
          object: 'list',
          data: vectors.map((values, index) => ({ object: 'embedding', index, embedding: encodeVector(values, call.body.encoding_format) })),
          model: call.model.id,
          usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
        },
        usage,
      };
    },

    async complete(call) {
      const result = await upstreamJson(await post(call, 'generateContent')) as GeminiResponse;
      const candidate = result.candidates?.[0];
      let text = '';
      const toolCalls: OpenAiToolCall[] = [];
      for (const part of candidate?.content?.parts ?? []) {
        if (part.text && !part.thought) text += part.text;
        if (part.functionCall) toolCalls.push({ id: `call_${toolCalls.length}`, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } });
      }
      const usage = usageFrom(result.usageMetadata);
      return { body: completionBody('chatcmpl-gemini', call.model.id, text, toolCalls, finishReason(candidate?.finishReason, toolCalls.length > 0) ?? 'stop', usage), usage };
    },

    async stream(call): Promise<ChatStream> {
      const response = await post(call, 'streamGenerateContent?alt=sse');
      if (!response.ok || !response.body) return refuseUpstream(response);
      return talliedStream(geminiEvents, response.body, call.model.id);
    },
  };
}
