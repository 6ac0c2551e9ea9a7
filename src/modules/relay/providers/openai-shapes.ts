// OpenAI's response shapes, built by the adapters that translate other providers' answers.
import { sseData } from './sse.js';
import type { StreamEvent, Usage } from './provider-types.js';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAiMessagePart {
  type: string;
  text?: string;
  image_url?: { url: string } | string;
}

export interface OpenAiMessage {
  role: string;
  content?: string | OpenAiMessagePart[] | null;
  name?: string;
  tool_calls?: OpenAiToolCall[];
  tool_call_id?: string;
}

export const openAiUsage = (u: Usage) => ({
  prompt_tokens: u.inputTokens,
  completion_tokens: u.outputTokens,
  total_tokens: u.inputTokens + u.outputTokens,
  prompt_tokens_details: { cached_tokens: u.cachedTokens },
});

export function completionBody(id: string, model: string, text: string, toolCalls: OpenAiToolCall[], finish: FinishReason, usage: Usage | null) {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text.length || !toolCalls.length ? text : null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
      finish_reason: finish,
    }],
    ...(usage ? { usage: openAiUsage(usage) } : {}),
  };
}

/** Builds the chunk events of one translated stream. */
export function chunkWriter(id: string, model: string) {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: FinishReason | null = null): StreamEvent => ({
    raw: sseData({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] }),
    outputChars: (typeof delta.content === 'string' ? delta.content.length : 0)
      + ((delta.tool_calls as Array<{ function?: { arguments?: string } }> | undefined)?.reduce((n, t) => n + (t.function?.arguments?.length ?? 0), 0) ?? 0),
  });
  return {
    chunk,
    usage: (u: Usage): StreamEvent => ({ raw: sseData({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: openAiUsage(u) }), usageOnly: true, outputChars: 0 }),
    done: (): StreamEvent => ({ raw: 'data: [DONE]\n\n', outputChars: 0 }),
  };
}

/** Text of an OpenAI content value (string or parts); images are handled by each adapter. */
export const textOf = (content: OpenAiMessage['content']): string =>
  typeof content === 'string' ? content : (content ?? []).filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');

export const parseArguments = (raw: string): Record<string, unknown> => {
  try {
    const value = JSON.parse(raw || '{}');
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
};
