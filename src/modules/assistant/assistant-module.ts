// Wires the assistant domain: completions in chats (through the relay's provider layer, charged
// to the credit ledger) and the user's own provider tokens (BYOK), which the relay also uses for
// the user's live /v1 calls. The token store is built first (createAssistantTokens) because the
// relay's credential resolution needs it; the rest after the relay (registerAssistant).
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import type { ProviderLayer } from '../relay/relay-module.js';
import type { RelayModuleService } from '../relay/relay-module.js';
import { createAssistantRepo, type AssistantRepo } from './assistant-repo.js';
import { assistantRoutes } from './assistant-routes.js';
import type { KnowledgeSearch } from './assistant-types.js';
import { createCompletionService } from './completion-service.js';
import { createProviderTokens } from './provider-tokens.js';

export function createAssistantTokens(platform: Platform) {
  const repo = createAssistantRepo(platform.db, platform.fieldCipher);
  return { repo, tokens: createProviderTokens({ repo, notifications: platform.notifications }) };
}

export interface AssistantDeps {
  store: { repo: AssistantRepo; tokens: ReturnType<typeof createProviderTokens> };
  chat: ChatModuleService;
  relay: Pick<RelayModuleService, 'chargeUsage' | 'currency'>;
  providers: ProviderLayer;
  /** The knowledge module's search, when it is wired (smart-folder context and citations). */
  knowledge?: KnowledgeSearch;
}

export function registerAssistant(platform: Platform, { store, chat, relay, providers, knowledge }: AssistantDeps) {
  const { repo, tokens } = store;
  const completions = createCompletionService({
    chat,
    providers,
    charge: relay.chargeUsage,
    repo,
    currency: relay.currency,
    keepAliveMs: platform.config.relay.keepAliveMs,
    knowledge,
    logger: platform.logger,
  });
  const registration: ModuleRegistration = {
    name: 'assistant',
    routes: assistantRoutes({ completions, tokens, providers, currency: relay.currency }),
    // GDPR Art. 15/20: the metadata of every AI reply (its text is in chat/messages.json) and the
    // providers you stored a token for, with dates. Never a token's value, not even sealed.
    // Deletion: both tables have a user_id foreign key (deletion job), and the data key they are
    // sealed under is destroyed with the account.
    personalData: {
      collections: [
        {
          name: 'completions',
          description: 'AI replies in your chats: message id, model, provider, whether the answer was cut short, whose key served it, token counts, cost (micro-cents) and the knowledge-base chunks cited (file id, chunk number, score). The reply text is in chat/messages.json.',
          async *rows(userId) {
            for await (const c of repo.eachCompletion(userId)) {
              yield {
                id: c.id, chatId: c.chatId, messageId: c.messageId, model: c.model, provider: c.provider, assistantId: c.assistantId, status: c.status,
                tokenSource: c.tokenSource, inputTokens: c.inputTokens, outputTokens: c.outputTokens, cachedTokens: c.cachedTokens,
                costMicrocents: c.costMicrocents, citations: c.citations, createdAt: c.createdAt.toISOString(),
              };
            }
          },
        },
        {
          name: 'provider_tokens',
          description: 'The providers you stored your own API token for, and when. The tokens themselves are never exported.',
          async *rows(userId) {
            for (const t of await repo.tokenList(userId)) yield { provider: t.provider, createdAt: t.createdAt.toISOString(), updatedAt: t.updatedAt.toISOString() };
          },
        },
      ],
    },
  };
  return { service: { completions, tokens }, registration };
}
