// Wires the relay: API keys, the /v1 gateway with its OpenAI-shaped errors, the provider
// adapters, the spend limiter, and the retention of the relay log.
import type { Request, Response } from 'express';
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import type { AuditService } from '../audit/audit-service.js';
import { createProviderCredentials } from './provider-credentials.js';
import { createEmbedder } from './relay-embeddings.js';
import { loadCatalogue, type ProviderName } from './relay-catalogue.js';
import { relayStaffRoutes } from './relay-staff-routes.js';
import { RelayError, relayErrorFromProblem, sendRelayError } from './relay-errors.js';
import { createRelayRepo } from './relay-repo.js';
import { relayRoutes } from './relay-routes.js';
import { createRelayService } from './relay-service.js';
import type { ApiKeyCredential } from './relay-types.js';
import { createSpendLimiter } from './spend-limiter.js';
import { createKeyCache } from './key-cache.js';
import { createUpstreamClient } from './providers/upstream-http.js';
import { createOpenAiProtocolAdapter } from './providers/openai-protocol.js';
import { createAnthropicAdapter } from './providers/anthropic.js';
import { createGeminiAdapter } from './providers/gemini.js';
import type { ProviderAdapter, ProviderTarget } from './providers/provider-types.js';
import type { KeyEnvironment } from './api-keys.js';

/** Where a call's provider credential came from: the user's own token (BYOK) or the platform's. */
export type ResolvedTarget = ProviderTarget & { source: 'platform' | 'user' };

/** The user's own provider token (assistant module), looked up when a live call is made. */
export type OwnTokenLookup = (userId: string, provider: ProviderName) => Promise<string | null>;

export function registerRelay(platform: Platform, chat: Pick<ChatModuleService, 'recordTransaction'>, audit: Pick<AuditService, 'record' | 'recordedRead'>, ownToken?: OwnTokenLookup) {
  const { config, db, readDb, redis, logger, fieldCipher } = platform;
  const repo = createRelayRepo(db, readDb, logger);
  const catalogue = loadCatalogue(config.relay.catalogueFile);
  const credentials = createProviderCredentials({ repo, cipher: fieldCipher, configured: config.relay.providers });
  const upstream = createUpstreamClient();
  const openAiProtocol = createOpenAiProtocolAdapter(upstream);
  const adapters: Record<ProviderName, ProviderAdapter | undefined> = { openai: openAiProtocol, xai: openAiProtocol, anthropic: createAnthropicAdapter(upstream), google: createGeminiAdapter(upstream) };
  // The credential-resolution hook: a user's own token for the provider replaces the platform's
  // for their live calls (relay keys and chats); test keys never reach a live credential.
  async function target(provider: ProviderName, environment: KeyEnvironment, userId?: string): Promise<ResolvedTarget | null> {
    const own = userId && environment === 'live' && ownToken ? await ownToken(userId, provider) : null;
    if (own) return { baseUrl: config.relay.providers[provider].baseUrl, apiKey: own, source: 'user' };
    const platformTarget = await credentials.target(provider, environment);
    return platformTarget ? { ...platformTarget, source: 'platform' } : null;
  }

  const service = createRelayService({
    repo,
    keyCache: createKeyCache<ApiKeyCredential>({ redis, channel: `${config.queuePrefix}:relay:key-invalidation`, logger }),
    onClose: () => upstream.close(),
    limiter: createSpendLimiter(redis, config.queuePrefix),
    catalogue,
    adapters,
    ledger: chat,
    providerTarget: target,
    pepper: config.apiKeyPepper,
    currency: config.relay.currency,
    logRetentionDays: config.relay.logRetentionDays,
    upstreamTimeoutMs: config.relay.upstreamTimeoutMs,
    keepAliveMs: config.relay.keepAliveMs,
    logger,
  });

  // The key resolved by the security scheme, handed to the handler of the same request.
  const resolved = new WeakMap<Request, ApiKeyCredential>();
  const registration: ModuleRegistration = {
    name: 'relay',
    routes: {
      ...relayRoutes(service, (req) => resolved.get(req)),
      ...relayStaffRoutes({ audit, repo, credentials, catalogue, pepper: config.apiKeyPepper }),
    },
    schemes: {
      relayApiKey: async (token, req) => {
        const credential = await service.resolveKey(token);
        if (!credential) return null;
        resolved.set(req, credential);
        return service.principalOf(credential);
      },
    },
    // GDPR Art. 15/20: the user's keys (never a secret or hash), daily usage and the log rows
    // still within retention. Deletion removes every relay table by its user_id foreign key.
    personalData: {
      collections: [
        {
          name: 'api_keys',
          description: 'Your relay API keys: prefix, name, environment, limit, dates. Custos never had the keys themselves after showing them.',
          async *rows(userId) {
            for (const k of await repo.allKeys(userId)) {
              yield { id: k.id, prefix: service.displayPrefix(k), name: k.name, environment: k.environment, spendingLimitCents: k.spendingLimitCents, models: k.models,
                createdAt: k.createdAt.toISOString(), expiresAt: k.expiresAt?.toISOString() ?? null, revokedAt: k.revokedAt?.toISOString() ?? null, lastUsedAt: k.lastUsedAt?.toISOString() ?? null };
            }
          },
        },
        {
          name: 'relay_usage',
          description: 'Relay usage per key, model and UTC day: requests, tokens, cost (micro-cents). No prompt or completion was ever stored.',
          async *rows(userId) { yield* (await repo.usage(userId, '1970-01-01', '9999-12-31')).map((u) => ({ ...u })); },
        },
        {
          name: 'relay_log',
          description: `Relay calls of the last ${config.relay.logRetentionDays} days: time, key, model, status, tokens, latency, cost.`,
          async *rows(userId) {
            for (const r of await repo.readLog({ userId, from: new Date(0), to: new Date(8.64e15) }, 100_000)) yield { ...r, at: r.at.toISOString() };
          },
        },
      ],
    },
    // A deletion requested (or cancelled): the account's keys are read afresh on every replica.
    onAccountStatusChanged: (userId) => service.accountStatusChanged(userId),
    errorShape: {
      pathPrefix: '/v1/',
      owns: (error) => error instanceof RelayError,
      send: (error, req: Request, res: Response) => sendRelayError(res, error as RelayError, req.requestId),
      sendProblem: (problem, req: Request, res: Response) => sendRelayError(res, relayErrorFromProblem(problem), req.requestId),
    },
  };
  // For chats (assistant module): the same adapters, catalogue and credential resolution as /v1.
  const providerLayer = { catalogue, adapters, target: (provider: ProviderName, userId: string) => target(provider, 'live', userId), upstreamTimeoutMs: config.relay.upstreamTimeoutMs };
  // Embeddings for the smart-folder knowledge base, over the same provider layer (BYOK included).
  return { service, registration, providerLayer, embedder: createEmbedder({ ...providerLayer, charge: service.chargeUsage }) };
}

export type ProviderLayer = ReturnType<typeof registerRelay>['providerLayer'];

export type RelayModuleService = ReturnType<typeof registerRelay>['service'];
