// The user's own provider tokens (BYOK): stored AES-256-GCM under the user's data key (repo),
// shown only as their last four characters, and looked up for the user's live calls (relay keys
// and chats) through a short in-memory cache, so the relay's hot path does not read and decrypt
// a row per call. Every change to a token is announced by PostgreSQL on commit (migration
// 20261201180000_provider_token_notify) and drops the owner's entries on every replica; while
// those notifications may be missed (connection down, not yet listening) the cache is not used.
// A hit is served only once the notification connection vouches for it: within its lease at once,
// otherwise after a barrier of its own (a round trip that hands over every notification of a
// transaction committed before it). A change returns only once it has outwaited every lease
// (db-notifications.ts), so a token deleted or replaced through another replica is never served
// once that change has returned, and a relayed call costs no database round trip.
import type { DbNotifications } from '../../platform/db-notifications.js';
import { NotFoundError } from '../../platform/http/problem.js';
import type { ProviderName } from '../relay/relay-catalogue.js';
import type { AssistantRepo } from './assistant-repo.js';

export const PROVIDER_TOKEN_CHANNEL = 'custos_provider_token_changed';
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

export interface ProviderTokenView {
  provider: ProviderName;
  lastFour: string;
  createdAt: Date;
  updatedAt: Date;
}

const lastFour = (token: string) => token.slice(-4);

interface ProviderTokenDeps {
  repo: Pick<AssistantRepo, 'storeToken' | 'token' | 'tokens' | 'deleteToken'>;
  notifications: Pick<DbNotifications, 'listen' | 'barrier' | 'leased' | 'outwaitLease'>;
}

export function createProviderTokens({ repo, notifications }: ProviderTokenDeps) {
  const cache = new Map<string, { value: string | null; until: number }>();
  const slot = (userId: string, provider: string) => `${userId}/${provider}`;
  let listening = false;
  // Bumped by every eviction: a lookup that overlapped one does not put its (maybe older) row back.
  let generation = 0;
  // This process's own writes evict at once, after the write (a lookup that overlapped it is not cached).
  const forget = (userId: string, provider: string) => {
    generation += 1;
    cache.delete(slot(userId, provider));
  };
  const evictOwner = (userId: string) => {
    generation += 1;
    for (const key of cache.keys()) if (key.startsWith(`${userId}/`)) cache.delete(key);
  };
  // On first use, like the session cache: a CLI command or a worker that never resolves a token
  // opens no listening connection.
  let subscribed = false;
  const subscribe = () => {
    if (subscribed) return;
    subscribed = true;
    notifications.listen(PROVIDER_TOKEN_CHANNEL, {
      message: (payload) => { if (payload === '*') { generation += 1; cache.clear(); } else evictOwner(payload); },
      state: (up) => { listening = up; generation += 1; cache.clear(); },
    });
  };

  return {
    /** The user's token for the provider, or null (the platform's key is used then). */
    async tokenFor(userId: string, provider: ProviderName): Promise<string | null> {
      subscribe();
      const at = slot(userId, provider);
      const since = generation;
      const hit = listening ? cache.get(at) : undefined;
      if (hit && hit.until > Date.now()) {
        const confirmed = notifications.leased() || await notifications.barrier().then(() => true, () => false);
        // The barrier may have delivered this owner's eviction, or the subscription gone down.
        if (confirmed && listening && cache.get(at) === hit) return hit.value;
      }
      const value = await repo.token(userId, provider);
      if (!listening || since !== generation) return value;
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(at, { value, until: Date.now() + CACHE_MS });
      return value;
    },

    async store(userId: string, provider: ProviderName, token: string): Promise<ProviderTokenView> {
      const dates = await repo.storeToken(userId, provider, token);
      forget(userId, provider);
      await notifications.outwaitLease();
      return { provider, lastFour: lastFour(token), ...dates };
    },

    async list(userId: string): Promise<ProviderTokenView[]> {
      return (await repo.tokens(userId)).map((t) => ({ provider: t.provider, lastFour: lastFour(t.token), createdAt: t.createdAt, updatedAt: t.updatedAt }));
    },

    async remove(userId: string, provider: ProviderName): Promise<void> {
      const deleted = await repo.deleteToken(userId, provider);
      forget(userId, provider);
      if (!deleted) throw new NotFoundError(`You have no stored ${provider} token.`);
      await notifications.outwaitLease();
    },

    /** Whether this process would answer the user's token from its cache now (tests wait on it). */
    isCached: (userId: string, provider: ProviderName) => listening && (cache.get(slot(userId, provider))?.until ?? 0) > Date.now(),
  };
}

export type ProviderTokens = ReturnType<typeof createProviderTokens>;
