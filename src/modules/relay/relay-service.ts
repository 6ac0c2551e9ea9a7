// The relay's rules: API keys (issue, list, revoke, rotate, resolve through the key cache), the
// calls (relay-calls.ts), settlement (Redis counter at once; log, usage, spend ledger and credit
// ledger in batches, settlement-writer.ts) and the facts the trust centre reports.
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../platform/http/problem.js';
import type { KeyCache } from './key-cache.js';
import { RelayError } from './relay-errors.js';
import { createSettlementWriter } from './settlement-writer.js';
import type { Logger } from '../../platform/logger.js';
import type { Principal } from '../../platform/http/auth.js';
import type { NewTransaction } from '../chat/chat-types.js';
import { displayPrefix, generateApiKey, parseApiKey, verifyApiKey, type KeyEnvironment } from './api-keys.js';
import { createRelayCalls, type CallDeps, type Settlement } from './relay-calls.js';
import { PROVIDERS, type Catalogue, type ProviderName } from './relay-catalogue.js';
import type { RelayRepo } from './relay-repo.js';
import type { ApiKeyCredential, ApiKeyRecord } from './relay-types.js';
import { spendPeriod, type SpendLimiter } from './spend-limiter.js';
import type { ProviderAdapter, ProviderTarget } from './providers/provider-types.js';

type Deps = {
  repo: RelayRepo;
  keyCache: KeyCache<ApiKeyCredential>;
  limiter: SpendLimiter;
  catalogue: Catalogue;
  adapters: Record<ProviderName, ProviderAdapter | undefined>;
  ledger: { recordTransaction(userId: string, input: NewTransaction): Promise<unknown> };
  /** The provider credential for an environment (configuration, or one stored by an operator). */
  providerTarget(provider: ProviderName, environment: KeyEnvironment, userId?: string): Promise<ProviderTarget | null>;
  pepper: Buffer;
  currency: string;
  logRetentionDays: number;
  upstreamTimeoutMs: number;
  keepAliveMs: number;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Releases what the module holds besides the cache (the upstream connection pools). */
  onClose?: () => void;
};

export interface NewKeyInput {
  name: string;
  environment: KeyEnvironment;
  spendingLimitCents?: number | null;
  expiresAt?: Date | null;
  models?: string[] | null;
}

export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 86_400;

export function createRelayService(deps: Deps) {
  const { repo, catalogue, pepper } = deps;

  function checkModels(models: string[] | null | undefined): string[] | null {
    if (!models || models.length === 0) return null;
    const unknown = models.filter((id) => !catalogue.find(id));
    if (unknown.length) throw new ConflictError(`Unknown model ids: ${unknown.join(', ')}. GET /v1/models lists them.`);
    return [...new Set(models)];
  }

  async function issue(userId: string, input: NewKeyInput, limitGroupId?: string) {
    if (input.expiresAt && input.expiresAt <= new Date()) throw new ConflictError('expiresAt must be in the future.');
    const generated = generateApiKey(input.environment, pepper);
    const id = randomUUID();
    const record = {
      id, userId, limitGroupId: limitGroupId ?? id, prefix: generated.prefix, salt: generated.salt, keyHash: generated.hash,
      name: input.name, environment: input.environment, spendingLimitCents: input.spendingLimitCents ?? null,
      models: checkModels(input.models), expiresAt: input.expiresAt ?? null,
    };
    return { record, key: generated.key };
  }

  /** The credential if the presented token is its key and it may be used now; null, or a 403 for an account pending deletion. */
  function usable(credential: ApiKeyCredential, environment: KeyEnvironment, token: string): ApiKeyCredential | null {
    if (credential.environment !== environment) return null;
    if (!verifyApiKey(pepper, credential.salt, credential.keyHash, token)) return null;
    if (credential.revokedAt) return null;
    if (credential.expiresAt && credential.expiresAt <= new Date()) return null;
    if (credential.ownerStatus === 'pending_deletion') {
      throw new RelayError(403, 'permission_error', 'account_pending_deletion', 'The account that owns this key is scheduled for deletion, so its API keys no longer work. Cancel the deletion (DELETE /api/v1/me/deletion) to use them again.');
    }
    return credential;
  }

  /** The key read from PostgreSQL and checked; cached unless an invalidation overlapped the read (`since`). */
  async function lookUp(parsed: { prefix: string; environment: KeyEnvironment }, token: string, since: number): Promise<ApiKeyCredential | null> {
    const row = await repo.findCredential(parsed.prefix);
    const credential = row && usable(row, parsed.environment, token);
    if (credential) deps.keyCache.set(parsed.prefix, credential, since);
    return credential || null;
  }

  const writer = createSettlementWriter({ repo, ledger: deps.ledger, currency: deps.currency, logger: deps.logger });
  // Redis settlements still under way; awaited by drain() (shutdown, tests).
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
    return p;
  };

  /**
   * After the answer left: the Redis counter is settled at once (it is what holds the limit),
   * the PostgreSQL records join the next batch. Resolves once both are done.
   */
  function settle(s: Settlement): Promise<void> {
    const counter = s.key.spendingLimitCents === null ? Promise.resolve()
      : track(deps.limiter.settle(s.key.limitGroupId, s.period, s.costMicrocents - s.reservedMicrocents).catch((error: Error) =>
        deps.logger.warn({ err: { message: error.message } }, 'relay: could not settle a reservation in Redis; the PostgreSQL ledger stays right')));
    const records = writer.add({
      at: new Date(), apiKeyId: s.key.id, limitGroupId: s.key.limitGroupId, userId: s.key.userId, environment: s.key.environment, provider: s.model.provider,
      model: s.model.id, status: s.status, reason: s.reason, inputTokens: s.usage.inputTokens, outputTokens: s.usage.outputTokens,
      cachedTokens: s.usage.cachedTokens, latencyMs: s.latencyMs, costMicrocents: s.costMicrocents, period: s.period,
    });
    return Promise.all([counter, records]).then(() => {});
  }

  const callDeps: CallDeps = {
    catalogue, adapters: deps.adapters, limiter: deps.limiter, target: deps.providerTarget, settle,
    // The ledger is read only to re-seed a lost counter: this process's queued settlements first.
    ledgerSpent: async (groupId, period) => {
      await writer.flush();
      return repo.spentMicrocents(groupId, period);
    },
    upstreamTimeoutMs: deps.upstreamTimeoutMs, keepAliveMs: deps.keepAliveMs,
  };
  const calls = createRelayCalls(callDeps);

  async function drain(): Promise<void> {
    while (pending.size) await Promise.all([...pending]);
    await writer.flush();
  }

  return {
    ...calls,
    catalogue,
    /** Resolves once every settlement started so far is written. */
    drain,
    /** Drains, then closes the key cache's subscription and the upstream connections. */
    async close(): Promise<void> {
      await drain();
      await deps.keyCache.close();
      deps.onClose?.();
    },
    currency: deps.currency,

    async createKey(userId: string, input: NewKeyInput): Promise<{ record: ApiKeyRecord; key: string }> {
      const { record, key } = await issue(userId, input);
      return { record: await repo.insertKey(record), key };
    },

    listKeys: (userId: string) => repo.listKeys(userId, spendPeriod()),

    async revokeKey(userId: string, id: string): Promise<void> {
      if (!(await repo.revokeKey(userId, id))) throw new NotFoundError('No such API key.');
      await deps.keyCache.invalidate(`k:${id}`);
    },

    /** The account's status changed (deletion requested or cancelled): its keys are read afresh. */
    accountStatusChanged: (userId: string) => deps.keyCache.invalidate(`u:${userId}`),

    /** A new key in the old one's place; the old one keeps working for `overlapSeconds`, then stops. */
    async rotateKey(userId: string, id: string, overlapSeconds: number): Promise<{ old: ApiKeyRecord; record: ApiKeyRecord; key: string }> {
      let key = '';
      const rotated = await repo.rotateKey(userId, id, new Date(Date.now() + overlapSeconds * 1000), (old) => {
        const generated = generateApiKey(old.environment, pepper);
        key = generated.key;
        return {
          id: randomUUID(), userId, limitGroupId: old.limitGroupId, prefix: generated.prefix, salt: generated.salt, keyHash: generated.hash,
          name: old.name, environment: old.environment, spendingLimitCents: old.spendingLimitCents, models: old.models, expiresAt: null,
        };
      });
      if (!rotated) throw new NotFoundError('No such live API key (revoked, expired or already rotated keys cannot be rotated).');
      await deps.keyCache.invalidate(`k:${id}`);
      return { old: rotated.old, record: rotated.created, key };
    },

    /**
     * The key behind a bearer token, or null. A malformed token (wrong shape or checksum) is
     * refused before any lookup; a well-formed one is found by its prefix (in the key cache, or
     * PostgreSQL on a miss or while the cache is not live) and its salted hash compared in
     * constant time on every call. Expiry is checked on every call; revocation and account
     * status changes empty the cache on every replica (key-cache.ts). Only usable keys are
     * cached. A key whose account awaits deletion gets a 403 that says so.
     */
    async resolveKey(token: string): Promise<ApiKeyCredential | null> {
      const parsed = parseApiKey(token);
      if (!parsed) return null;
      const since = deps.keyCache.begin();
      const hit = await deps.keyCache.get(parsed.prefix);
      return hit ? usable(hit, parsed.environment, token) : lookUp(parsed, token, since);
    },

    /** The key cache's state, for readiness checks and tests. */
    keyCacheStatus: () => deps.keyCache.status(),

    principalOf: (credential: ApiKeyCredential): Principal => ({ kind: 'apiKey', apiKeyId: credential.id, userId: credential.userId }),
    displayPrefix: (record: ApiKeyRecord) => displayPrefix(record.environment, record.prefix),

    usage: (userId: string, from: string, to: string) => repo.listUsage(userId, from, to),

    /**
     * Charges usage that did not go through a relay key (chat completions) to the credit ledger,
     * through the same sub-cent carry as relay calls. A ledger failure keeps the cents for later.
     */
    async chargeUsage(userId: string, costMicrocents: number, description: string): Promise<void> {
      const { dueCents } = await repo.carry(userId, costMicrocents);
      await writer.charge(userId, dueCents, description);
    },

    // For the scheduler and the trust centre.
    logRetentionDays: deps.logRetentionDays,
    async purgeExpiredLog(now = new Date()): Promise<number> {
      return repo.purgeLogBefore(new Date(now.getTime() - deps.logRetentionDays * 86_400_000));
    },
    oldestLogAt: () => repo.oldestLogAt(),
    logFreeTextColumns: () => repo.logFreeTextColumns(),
    /** Each provider with its paid-tier flag (from the catalogue) and whether it is configured. */
    async providers(): Promise<Array<{ provider: ProviderName; name: string; paidTier: boolean; configured: boolean }>> {
      return Promise.all(PROVIDERS.map(async (provider) => ({
        provider,
        name: catalogue.providers[provider].name,
        paidTier: catalogue.providers[provider].paidTier,
        configured: Boolean(deps.adapters[provider]) && Boolean(await deps.providerTarget(provider, 'live')),
      })));
    },
  };
}

export type RelayService = ReturnType<typeof createRelayService>;
