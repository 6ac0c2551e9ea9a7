// Handlers keyed by operationId: the model picker, completions in a chat, and the user's own
// provider tokens. Parse, call the service, respond; a token is never in a response (last four only).
import type { Request } from 'express';
import { requireUser } from '../../platform/http/auth.js';
import type { RouteTable } from '../../platform/platform.js';
import { PROVIDERS, type ProviderName } from '../relay/relay-catalogue.js';
import type { ProviderLayer } from '../relay/relay-module.js';
import { responseSink } from '../relay/relay-routes.js';
import type { CompletionInput, CompletionService, StoredReply } from './completion-service.js';
import type { ProviderTokens, ProviderTokenView } from './provider-tokens.js';

const cents = (microcents: number) => Math.round(microcents / 10_000) / 100;

export const replyView = ({ message, completion }: StoredReply) => ({
  id: message.id,
  chatId: message.chatId,
  role: 'assistant' as const,
  content: message.content,
  model: completion.model,
  usage: { promptTokens: completion.inputTokens, completionTokens: completion.outputTokens, cachedTokens: completion.cachedTokens, costCents: cents(completion.costMicrocents) },
  incomplete: completion.status === 'incomplete',
  tokenSource: completion.tokenSource,
  citations: completion.citations,
  createdAt: message.createdAt.toISOString(),
});

/** The streamed `done` event: the stored reply without its text (the client has it from the deltas). */
const doneView = (reply: StoredReply) => {
  const { content: _content, ...rest } = replyView(reply);
  return rest;
};

const tokenView = (t: ProviderTokenView) => ({ provider: t.provider, lastFour: t.lastFour, createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() });
const providerParam = (req: Request) => String(req.params.provider) as ProviderName;

export function assistantRoutes(deps: { completions: CompletionService; tokens: ProviderTokens; providers: ProviderLayer; currency: string }): RouteTable {
  const { completions, tokens, providers } = deps;
  return {
    listChatModels: async (req, res) => {
      const { userId } = requireUser(req);
      const { catalogue } = providers;
      // Which credential would serve the user's chat: their own token, the platform's, or none.
      const configured = Object.fromEntries(await Promise.all(PROVIDERS.map(async (p) => [p, (await providers.target(p, userId))?.source ?? null] as const)));
      res.json({
        currency: 'USD',
        unit: '1M tokens',
        chargedIn: deps.currency,
        items: catalogue.models.filter((m) => m.kinds.includes('chat')).map((m) => ({
          id: m.id,
          provider: m.provider,
          providerName: catalogue.providers[m.provider].name,
          paidTier: catalogue.providers[m.provider].paidTier,
          credential: configured[m.provider],
          availableForChats: catalogue.providers[m.provider].paidTier && configured[m.provider] !== null,
          pricing: { input: m.input, output: m.output, cachedInput: m.cachedInput },
          maxOutputTokens: m.maxOutputTokens,
        })),
      });
    },

    completeChat: async (req, res) => {
      const { userId } = requireUser(req);
      const chatId = String(req.params.chatId);
      const body = req.body as CompletionInput;
      if (body.stream === true) {
        await completions.stream(userId, chatId, body, responseSink(res), doneView);
        return;
      }
      res.status(201).json(replyView(await completions.complete(userId, chatId, body)));
    },

    putMyProviderToken: async (req, res) => {
      const stored = await tokens.store(requireUser(req).userId, providerParam(req), String((req.body as { token: string }).token));
      res.json(tokenView(stored));
    },

    listMyProviderTokens: async (req, res) => {
      res.json({ items: (await tokens.list(requireUser(req).userId)).map(tokenView) });
    },

    deleteMyProviderToken: async (req, res) => {
      await tokens.remove(requireUser(req).userId, providerParam(req));
      res.status(204).end();
    },
  };
}
