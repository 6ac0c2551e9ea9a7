// The user's own provider tokens (BYOK): stored AES-256-GCM under the user's data key (repo),
// shown only as their last four characters, and looked up for the user's live calls (relay keys
// and chats) through a short in-memory cache, so the relay's hot path does not read and decrypt
// a row per call. A change reaches other replicas within CACHE_MS; this replica's cache is
// dropped at once.
import { NotFoundError } from '../../platform/http/problem.js';
import type { ProviderName } from '../relay/relay-catalogue.js';
import type { AssistantRepo } from './assistant-repo.js';

const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

export interface ProviderTokenView {
  provider: ProviderName;
  lastFour: string;
  createdAt: Date;
  updatedAt: Date;
}

const lastFour = (token: string) => token.slice(-4);

export function createProviderTokens({ repo }: { repo: Pick<AssistantRepo, 'storeToken' | 'token' | 'tokens' | 'deleteToken'> }) {
  const cache = new Map<string, { value: string | null; until: number }>();
  const slot = (userId: string, provider: string) => `${userId}/${provider}`;

  return {
    /** The user's token for the provider, or null (the platform's key is used then). */
    async tokenFor(userId: string, provider: ProviderName): Promise<string | null> {
      const at = slot(userId, provider);
      const hit = cache.get(at);
      if (hit && hit.until > Date.now()) return hit.value;
      const value = await repo.token(userId, provider);
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(at, { value, until: Date.now() + CACHE_MS });
      return value;
    },

    async store(userId: string, provider: ProviderName, token: string): Promise<ProviderTokenView> {
      const dates = await repo.storeToken(userId, provider, token);
      cache.delete(slot(userId, provider));
      return { provider, lastFour: lastFour(token), ...dates };
    },

    async list(userId: string): Promise<ProviderTokenView[]> {
      return (await repo.tokens(userId)).map((t) => ({ provider: t.provider, lastFour: lastFour(t.token), createdAt: t.createdAt, updatedAt: t.updatedAt }));
    },

    async remove(userId: string, provider: ProviderName): Promise<void> {
      cache.delete(slot(userId, provider));
      if (!(await repo.deleteToken(userId, provider))) throw new NotFoundError(`You have no stored ${provider} token.`);
    },
  };
}

export type ProviderTokens = ReturnType<typeof createProviderTokens>;
