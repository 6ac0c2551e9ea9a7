// Completions in a chat: the chat's messages (decrypted), the assistant's instructions and, for a
// chat in a smart folder, the best knowledge-base chunks go to the model through the relay's
// provider layer (same adapters, catalogue and credential resolution as /v1). The reply is stored
// as an encrypted assistant message with its metadata (one transaction) and its cost charged to
// the credit ledger. Checks that need no provider come first: a refused request costs nothing
// and reaches no provider.
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, HttpProblem, ServiceUnavailableError } from '../../platform/http/problem.js';
import type { Logger } from '../../platform/logger.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import type { Message } from '../chat/chat-types.js';
import type { ProviderLayer } from '../relay/relay-module.js';
import { costOf, type StreamSink } from '../relay/relay-calls.js';
import type { CatalogueModel } from '../relay/relay-catalogue.js';
import type { Usage } from '../relay/providers/provider-types.js';
import type { AssistantRepo } from './assistant-repo.js';
import type { Citation, CompletionRecord, KnowledgeSearch } from './assistant-types.js';
import { upstreamProblem } from './completion-failures.js';
import { watchdog } from '../relay/providers/watchdog.js';

export interface CompletionInput {
  model: string;
  assistantId?: string;
  stream?: boolean;
}

export interface StoredReply {
  message: Message;
  completion: CompletionRecord;
}

export interface CompletionDeps {
  chat: Pick<ChatModuleService, 'getChat' | 'latestMessages' | 'appendMessage' | 'getAssistant' | 'smartFolderIdsOfChat' | 'balances'>;
  providers: ProviderLayer;
  charge(userId: string, costMicrocents: number, description: string): Promise<void>;
  repo: Pick<AssistantRepo, 'insertCompletion'>;
  currency: string;
  keepAliveMs: number;
  /** The knowledge module's search (smart-folder context); absent until that module is wired. */
  knowledge?: KnowledgeSearch;
  logger: Pick<Logger, 'warn' | 'error'>;
}

/** How many of the chat's latest messages are sent, and how many knowledge chunks. */
export const HISTORY_MESSAGES = 100;
export const CONTEXT_CHUNKS = 5;

const PAYMENT_REQUIRED = (currency: string) => new HttpProblem(402, 'payment-required', 'No credit left',
  `Your credit balance in ${currency} is used up. Buy credit, then ask again; nothing was sent to a model.`);

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The generated text in one OpenAI chunk event (the adapters' common output), or ''. */
function deltaText(raw: string): string {
  let text = '';
  for (const line of raw.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (!data || data === '[DONE]') continue;
    try {
      const chunk = JSON.parse(data) as { choices?: Array<{ delta?: { content?: unknown } }> };
      for (const choice of chunk.choices ?? []) if (typeof choice.delta?.content === 'string') text += choice.delta.content;
    } catch {
      // Not a chunk the adapters produce; it carries no text for the chat.
    }
  }
  return text;
}

const estimate = (chars: number) => Math.ceil(chars / 4);

export function createCompletionService(deps: CompletionDeps) {
  const { chat, providers } = deps;

  /** The top chunks over every smart folder holding the chat, best first. */
  async function context(userId: string, chatId: string, query: string) {
    if (!deps.knowledge) return [];
    const found = [];
    for (const folderId of await chat.smartFolderIdsOfChat(userId, chatId)) {
      found.push(...(await deps.knowledge.search(userId, folderId, { query, limit: CONTEXT_CHUNKS })).items);
    }
    return found.sort((a, b) => b.score - a.score).slice(0, CONTEXT_CHUNKS);
  }

  /** Everything that can refuse the request, in order, before any provider is called. */
  async function prepare(userId: string, chatId: string, input: CompletionInput) {
    await chat.getChat(userId, chatId);
    const model = providers.catalogue.find(input.model);
    if (!model || !model.kinds.includes('chat')) {
      throw new BadRequestError(`The model ${JSON.stringify(input.model.slice(0, 120))} is not offered for chats; GET /api/v1/models lists the ids.`, [{ field: 'body.model', message: 'is not a chat model of the catalogue' }]);
    }
    const provider = providers.catalogue.providers[model.provider];
    if (!provider.paidTier) {
      throw new HttpProblem(403, 'provider-not-paid-tier', 'Provider refused for chats',
        `${provider.name} is not configured with a paid production API tier, whose terms exclude training on requests; chats are only sent to such tiers. Choose a model whose provider has paidTier: true in GET /api/v1/models.`);
    }
    const assistant = input.assistantId ? await chat.getAssistant(userId, input.assistantId) : null;
    const messages = await chat.latestMessages(userId, chatId, HISTORY_MESSAGES);
    const lastUser = messages.at(-1);
    if (!lastUser || lastUser.role !== 'user') {
      throw new ConflictError('The chat has no user message to answer: POST /api/v1/chats/{chatId}/messages with role "user" first.');
    }
    const balance = (await chat.balances(userId)).find((b) => b.currency === deps.currency)?.balanceCents ?? 0;
    if (balance <= 0) throw PAYMENT_REQUIRED(deps.currency);
    const adapter = providers.adapters[model.provider];
    const target = await providers.target(model.provider, userId);
    if (!adapter || !target) throw new ServiceUnavailableError(`${provider.name} is not configured on this deployment; store your own token with PUT /api/v1/me/provider-tokens/${model.provider}, or choose another model.`);

    const chunks = await context(userId, chatId, lastUser.content);
    const system = [
      assistant?.instructions ?? '',
      chunks.length ? `Excerpts from the user's files in this chat's smart folder; use them when relevant and cite them as [n]:\n\n${chunks.map((c, i) => `[${i + 1}] (file ${c.fileId}, chunk ${c.chunkIndex})\n${c.text}`).join('\n\n')}` : '',
    ].filter(Boolean).join('\n\n');
    const body = {
      model: model.id,
      messages: [...(system ? [{ role: 'system', content: system }] : []), ...messages.map((m) => ({ role: m.role, content: m.content }))],
    };
    const citations: Citation[] = chunks.map((c) => ({ fileId: c.fileId, chunkIndex: c.chunkIndex, score: c.score }));
    return { model, adapter, target, body, citations, assistantId: assistant?.id ?? null, inputChars: JSON.stringify(body.messages).length };
  }

  type Plan = Awaited<ReturnType<typeof prepare>>;

  async function chargeFor(userId: string, model: CatalogueModel, usage: Usage) {
    await deps.charge(userId, costOf(model, usage), `Chat completion (${model.id})`).catch((error: Error) =>
      deps.logger.error({ err: { message: error.message } }, 'assistant: a chat completion could not be charged'));
  }

  /** The reply and its metadata in one transaction; the cost is charged whether or not the chat still exists. */
  async function store(userId: string, chatId: string, plan: Plan, text: string, usage: Usage, status: 'complete' | 'incomplete'): Promise<StoredReply> {
    try {
      let completion: CompletionRecord | undefined;
      const message = await chat.appendMessage(userId, chatId, {
        role: 'assistant', content: text, model: plan.model.id, promptTokens: usage.inputTokens, completionTokens: usage.outputTokens,
      }, async (trx, saved) => {
        completion = await deps.repo.insertCompletion(trx, userId, {
          id: randomUUID(), chatId, messageId: saved.id, model: plan.model.id, provider: plan.model.provider, assistantId: plan.assistantId, status,
          tokenSource: plan.target.source, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, cachedTokens: usage.cachedTokens,
          costMicrocents: costOf(plan.model, usage), citations: plan.citations,
        });
      });
      return { message, completion: completion! };
    } finally {
      await chargeFor(userId, plan.model, usage);
    }
  }

  /** Whole answer: 201 with the stored reply, or a problem (nothing stored, nothing charged). */
  async function complete(userId: string, chatId: string, input: CompletionInput): Promise<StoredReply> {
    const plan = await prepare(userId, chatId, input);
    const guard = watchdog(providers.upstreamTimeoutMs);
    let result;
    try {
      result = await plan.adapter.complete({ model: plan.model, body: plan.body, target: plan.target, signal: guard.signal });
    } catch (error) {
      throw upstreamProblem(error, guard.timedOut, providers.catalogue.providers[plan.model.provider].name);
    } finally {
      guard.stop();
    }
    const choice = (result.body.choices as Array<{ message?: { content?: unknown } }> | undefined)?.[0];
    const text = typeof choice?.message?.content === 'string' ? choice.message.content : '';
    const usage = result.usage ?? { inputTokens: estimate(plan.inputChars), outputTokens: estimate(text.length), cachedTokens: 0 };
    return store(userId, chatId, plan, text, usage, 'complete');
  }

  /**
   * Streamed answer as server-sent events: `delta` events with text, then `done` with the stored
   * reply's metadata, or `error` with a problem (nothing stored). A client that leaves keeps what
   * was produced (stored, marked incomplete) and is charged for it.
   */
  async function stream(userId: string, chatId: string, input: CompletionInput, sink: StreamSink, view: (reply: StoredReply) => unknown): Promise<void> {
    const plan = await prepare(userId, chatId, input);
    const providerName = providers.catalogue.providers[plan.model.provider].name;
    const guard = watchdog(providers.upstreamTimeoutMs);
    sink.onAbort(() => guard.clientLeft());
    let upstream;
    try {
      upstream = await plan.adapter.stream({ model: plan.model, body: plan.body, target: plan.target, signal: guard.signal });
    } catch (error) {
      guard.stop();
      if (guard.clientGone) return;
      throw upstreamProblem(error, guard.timedOut, providerName);
    }
    guard.poke();
    sink.start();
    let lastWrite = Date.now();
    const write = async (text: string) => { lastWrite = Date.now(); await sink.write(text); };
    const keepAlive = setInterval(() => {
      if (Date.now() - lastWrite >= deps.keepAliveMs) void write(': keep-alive\n\n').catch(() => {});
    }, Math.max(25, Math.floor(deps.keepAliveMs / 2)));
    let text = '';
    let failure: unknown;
    let failed = false;
    try {
      for await (const event of upstream.events) {
        guard.poke();
        const delta = deltaText(event.raw);
        if (!delta) continue;
        text += delta;
        await write(sse('delta', { content: delta }));
      }
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      guard.stop();
      clearInterval(keepAlive);
    }
    const reported = upstream.usage();
    if (guard.clientGone) {
      // Charged what was used: the provider's count when it gave one, else estimated from the text.
      const usage = { inputTokens: reported?.inputTokens ?? estimate(plan.inputChars), outputTokens: Math.max(reported?.outputTokens ?? 0, estimate(text.length)), cachedTokens: reported?.cachedTokens ?? 0 };
      if (text) await store(userId, chatId, plan, text, usage, 'incomplete');
      else await chargeFor(userId, plan.model, usage);
      return;
    }
    if (failed) {
      await write(sse('error', upstreamProblem(failure, guard.timedOut, providerName).body())).catch(() => {});
      sink.end();
      return;
    }
    const usage = reported ?? { inputTokens: estimate(plan.inputChars), outputTokens: estimate(text.length), cachedTokens: 0 };
    try {
      await write(sse('done', view(await store(userId, chatId, plan, text, usage, 'complete'))));
    } catch (error) {
      const problem = error instanceof HttpProblem ? error : new HttpProblem(500, 'internal', 'The reply could not be stored', 'The answer arrived but could not be stored in the chat; retry.');
      if (!(error instanceof HttpProblem)) deps.logger.error({ err: { message: (error as Error).message } }, 'assistant: a streamed reply could not be stored');
      await write(sse('error', problem.body())).catch(() => {});
    }
    sink.end();
  }

  return { complete, stream };
}

export type CompletionService = ReturnType<typeof createCompletionService>;
