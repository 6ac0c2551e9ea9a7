// Anthropic's Messages API behind the OpenAI protocol, both ways. Requests: system messages
// become `system`, tool calls and results become tool_use/tool_result blocks, consecutive turns
// of one role are merged (the API requires alternation). Streams: text deltas, tool calls with
// OpenAI indices counted per tool call (not Anthropic's block index, which also counts text
// blocks: the LiteLLM #5231 bug), stop reasons mapped, usage from message_start plus the
// cumulative output count of message_delta (not summed), cache reads counted as cached input,
// and a mid-stream `error` event ending the stream without its text.
import { readSse } from './sse.js';
import { refuseUpstream, upstreamJson } from './openai-protocol.js';
import type { UpstreamClient } from './upstream-http.js';
import { chunkWriter, completionBody, parseArguments, textOf, type FinishReason, type OpenAiMessage, type OpenAiToolCall } from './openai-shapes.js';
import { talliedStream, UpstreamError, type ChatCall, type ChatStream, type ProviderAdapter, type StreamEvent, type StreamTally, type Usage } from './provider-types.js';

const ANTHROPIC_VERSION = '2023-06-01';

interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

type Block = Record<string, unknown>;

export const stopReason = (reason: string | null | undefined): FinishReason => {
  switch (reason) {
    case 'max_tokens': return 'length';
    case 'tool_use': return 'tool_calls';
    case 'refusal': return 'content_filter';
    default: return 'stop'; // end_turn, stop_sequence, pause_turn
  }
};

/** Anthropic counts cache reads and writes apart from input_tokens; OpenAI's prompt_tokens includes them. */
function usageFrom(u: AnthropicUsage, output = u.output_tokens ?? 0): Usage {
  const cached = u.cache_read_input_tokens ?? 0;
  return { inputTokens: (u.input_tokens ?? 0) + cached + (u.cache_creation_input_tokens ?? 0), outputTokens: output, cachedTokens: cached };
}

function imageBlock(url: string): Block {
  const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
  return data ? { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } } : { type: 'image', source: { type: 'url', url } };
}

function contentBlocks(content: OpenAiMessage['content']): Block[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return (content ?? []).flatMap((part): Block[] => {
    if (part.type === 'text') return [{ type: 'text', text: part.text ?? '' }];
    if (part.type === 'image_url') return [imageBlock(typeof part.image_url === 'string' ? part.image_url : part.image_url?.url ?? '')];
    return [];
  });
}

export function toAnthropicRequest(body: Record<string, unknown>, upstreamModel: string, maxOutputTokens: number) {
  const system: string[] = [];
  const messages: Array<{ role: 'user' | 'assistant'; content: Block[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: Block[]) => {
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of (body.messages ?? []) as OpenAiMessage[]) {
    if (m.role === 'system' || m.role === 'developer') system.push(textOf(m.content));
    else if (m.role === 'tool') push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) }]);
    else if (m.role === 'assistant') {
      push('assistant', [
        ...contentBlocks(m.content),
        ...(m.tool_calls ?? []).map((t) => ({ type: 'tool_use', id: t.id, name: t.function.name, input: parseArguments(t.function.arguments) })),
      ]);
    } else push('user', contentBlocks(m.content));
  }
  const stop = body.stop;
  const tools = (body.tools as Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }> | undefined)
    ?.filter((t) => t.type === 'function')
    .map((t) => ({ name: t.function.name, description: t.function.description, input_schema: t.function.parameters ?? { type: 'object', properties: {} } }));
  const choice = body.tool_choice as string | { type: string; function?: { name: string } } | undefined;
  const toolChoice = choice === 'auto' ? { type: 'auto' } : choice === 'required' ? { type: 'any' } : choice === 'none' ? { type: 'none' }
    : typeof choice === 'object' && choice?.function ? { type: 'tool', name: choice.function.name } : undefined;
  return {
    model: upstreamModel,
    max_tokens: Number(body.max_completion_tokens ?? body.max_tokens ?? maxOutputTokens),
    messages,
    ...(system.length ? { system: system.join('\n\n') } : {}),
    ...(body.temperature !== undefined && body.temperature !== null ? { temperature: body.temperature } : {}),
    ...(body.top_p !== undefined && body.top_p !== null ? { top_p: body.top_p } : {}),
    ...(stop ? { stop_sequences: Array.isArray(stop) ? stop : [stop] } : {}),
    ...(tools?.length ? { tools } : {}),
    ...(toolChoice ? { tool_choice: toolChoice } : {}),
  };
}

/** Anthropic's Messages stream as OpenAI chunks, read as they arrive (see StreamTally for why it is not a closure). */
async function* anthropicEvents(body: AsyncIterable<Uint8Array>, modelId: string, tally: StreamTally): AsyncGenerator<StreamEvent> {
  let start: AnthropicUsage = {};
  let out: ReturnType<typeof chunkWriter> | undefined;
  const toolIndexOfBlock = new Map<number, number>();
  let finish: FinishReason = 'stop';
  for await (const event of readSse(body)) {
    let data: Record<string, any>;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new UpstreamError('stream_error', null);
    }
    switch (data.type) {
      case 'message_start':
        start = data.message?.usage ?? {};
        tally.usage = usageFrom(start);
        out = chunkWriter(`chatcmpl-${data.message?.id ?? 'anthropic'}`, modelId);
        yield out.chunk({ role: 'assistant', content: '' });
        break;
      case 'content_block_start':
        if (data.content_block?.type === 'tool_use') {
          const toolIndex = toolIndexOfBlock.size;
          toolIndexOfBlock.set(data.index, toolIndex);
          yield out!.chunk({ tool_calls: [{ index: toolIndex, id: data.content_block.id, type: 'function', function: { name: data.content_block.name, arguments: '' } }] });
        }
        break;
      case 'content_block_delta':
        if (data.delta?.type === 'text_delta') yield out!.chunk({ content: data.delta.text });
        else if (data.delta?.type === 'input_json_delta' && toolIndexOfBlock.has(data.index)) {
          yield out!.chunk({ tool_calls: [{ index: toolIndexOfBlock.get(data.index), function: { arguments: data.delta.partial_json } }] });
        }
        break;
      case 'message_delta':
        finish = stopReason(data.delta?.stop_reason);
        // message_delta's usage is cumulative: it replaces, never adds to, what was counted.
        if (data.usage) {
          start = { ...start, ...Object.fromEntries(Object.entries(data.usage).filter(([, v]) => v !== null && v !== undefined)) };
          tally.usage = usageFrom(start);
        }
        break;
      case 'message_stop':
        yield out!.chunk({}, finish);
        if (tally.usage) yield out!.usage(tally.usage);
        yield out!.done();
        return;
      case 'error':
        throw new UpstreamError('stream_error', null);
      default:
        break; // ping, content_block_stop, thinking
    }
  }
  // The connection ended without message_stop: the answer is cut short.
  throw new UpstreamError('stream_error', null);
}

export function createAnthropicAdapter(client: UpstreamClient): ProviderAdapter {
  const post = (call: ChatCall, stream: boolean) => client.request(`${call.target.baseUrl}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': call.target.apiKey, 'anthropic-version': ANTHROPIC_VERSION },
    body: JSON.stringify({ ...toAnthropicRequest(call.body, call.model.upstreamModel, call.model.maxOutputTokens), ...(stream ? { stream: true } : {}) }),
    signal: call.signal,
  });

  return {
    async complete(call) {
      const message = await upstreamJson(await post(call, false)) as { id: string; content?: Block[]; stop_reason?: string; usage?: AnthropicUsage };
      let text = '';
      const toolCalls: OpenAiToolCall[] = [];
      for (const block of message.content ?? []) {
        if (block.type === 'text') text += String(block.text ?? '');
        if (block.type === 'tool_use') toolCalls.push({ id: String(block.id), type: 'function', function: { name: String(block.name), arguments: JSON.stringify(block.input ?? {}) } });
      }
      const usage = message.usage ? usageFrom(message.usage) : null;
      return { body: completionBody(`chatcmpl-${message.id}`, call.model.id, text, toolCalls, stopReason(message.stop_reason), usage), usage };
    },

    async stream(call): Promise<ChatStream> {
      const response = await post(call, true);
      if (!response.ok || !response.body) return refuseUpstream(response);
      return talliedStream(anthropicEvents, response.body, call.model.id);
    },
  };
}
