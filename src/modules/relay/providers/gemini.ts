// Google Gemini (generateContent / streamGenerateContent?alt=sse) behind the OpenAI protocol.
// Requests: system messages become systemInstruction, assistant turns role "model", tool calls
// functionCall parts and tool results functionResponse parts (named from the call they answer).
// Answers: text parts, functionCall parts as tool calls (each arrives whole, indexed in order),
// finish reasons mapped, usage from usageMetadata (cumulative in a stream: the last one counts;
// thinking tokens are output the customer pays for).
import { readSse } from './sse.js';
import { refuseUpstream, upstreamFetch } from './openai-protocol.js';
import { chunkWriter, completionBody, parseArguments, textOf, type FinishReason, type OpenAiMessage, type OpenAiToolCall } from './openai-shapes.js';
import { UpstreamError, type ChatCall, type ChatStream, type ProviderAdapter, type StreamEvent, type Usage } from './provider-types.js';

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

export function createGeminiAdapter(): ProviderAdapter {
  const post = (call: ChatCall, method: string) => upstreamFetch(`${call.target.baseUrl}/models/${encodeURIComponent(call.model.upstreamModel)}:${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-goog-api-key': call.target.apiKey },
    body: JSON.stringify(toGeminiRequest(call.body, call.model.maxOutputTokens)),
    signal: call.signal,
  });

  return {
    async complete(call) {
      const response = await post(call, 'generateContent');
      if (!response.ok) return refuseUpstream(response);
      const result = await response.json().catch((error: Error) => {
        if (error.name === 'AbortError') throw error;
        throw new UpstreamError('upstream_error', response.status);
      }) as GeminiResponse;
      const candidate = result.candidates?.[0];
      let text = '';
      const toolCalls: OpenAiToolCall[] = [];
      for (const part of candidate?.content?.parts ?? []) {
        if (part.text && !part.thought) text += part.text;
        if (part.functionCall) toolCalls.push({ id: `call_${toolCalls.length}`, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } });
      }
      const usage = usageFrom(result.usageMetadata);
      return { body: completionBody('chatcmpl-gemini', call.model.upstreamModel, text, toolCalls, finishReason(candidate?.finishReason, toolCalls.length > 0) ?? 'stop', usage), usage };
    },

    async stream(call): Promise<ChatStream> {
      const response = await post(call, 'streamGenerateContent?alt=sse');
      if (!response.ok || !response.body) return refuseUpstream(response);
      let usage: Usage | null = null;
      async function* events(): AsyncGenerator<StreamEvent> {
        const out = chunkWriter('chatcmpl-gemini', call.model.upstreamModel);
        yield out.chunk({ role: 'assistant', content: '' });
        let tools = 0;
        let finish: FinishReason | null = null;
        for await (const event of readSse(response.body!)) {
          let data: GeminiResponse;
          try {
            data = JSON.parse(event.data);
          } catch {
            throw new UpstreamError('stream_error', null);
          }
          if (data.error) throw new UpstreamError('stream_error', null);
          usage = usageFrom(data.usageMetadata) ?? usage;
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
        if (usage) yield out.usage(usage);
        yield out.done();
      }
      return { events: events(), usage: () => usage };
    },
  };
}
