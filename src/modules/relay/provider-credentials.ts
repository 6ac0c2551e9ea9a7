// Provider credentials: the ones an operator stored through the admin route (AES-256-GCM at rest
// under the relay's data key, bound to provider and environment) take precedence over
// configuration. Decrypted values are kept in memory for a few seconds only, so a change made on
// one replica reaches the others within that time and no credential is read per call.
import type { ProviderSettings } from '../../config.js';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import type { KeyEnvironment } from './api-keys.js';
import type { ProviderName } from './relay-catalogue.js';
import type { RelayRepo } from './relay-repo.js';
import type { ProviderTarget } from './providers/provider-types.js';

/** Key-store subject of the relay's own data key (not a user's: erasing an account leaves it). */
export const RELAY_CREDENTIALS_SUBJECT = '00000000-0000-4000-8000-72656c617901';
const CACHE_MS = 5_000;
const at = (provider: string, environment: string) => ({ table: 'relay_provider_credentials', column: 'api_key_enc', rowId: `${provider}:${environment}` });

type Deps = {
  repo: Pick<RelayRepo, 'storedCredential' | 'storedCredentialList' | 'storeCredential' | 'deleteCredential'>;
  cipher: Pick<FieldCipher, 'encryptText' | 'decryptText'>;
  configured: Record<ProviderName, ProviderSettings>;
};

export function createProviderCredentials({ repo, cipher, configured }: Deps) {
  const cache = new Map<string, { value: string | null; until: number }>();

  async function stored(provider: ProviderName, environment: KeyEnvironment): Promise<string | null> {
    const slot = `${provider}:${environment}`;
    const hit = cache.get(slot);
    if (hit && hit.until > Date.now()) return hit.value;
    const row = await repo.storedCredential(provider, environment);
    const value = row ? await cipher.decryptText(at(provider, environment), row.ciphertext) : null;
    cache.set(slot, { value, until: Date.now() + CACHE_MS });
    return value;
  }

  return {
    /** A test key never reaches a live credential: it gets the test one or nothing. */
    async target(provider: ProviderName, environment: KeyEnvironment): Promise<ProviderTarget | null> {
      const settings = configured[provider];
      const apiKey = (await stored(provider, environment)) ?? (environment === 'live' ? settings.apiKey : settings.testApiKey);
      return apiKey ? { baseUrl: settings.baseUrl, apiKey } : null;
    },
    async store(provider: ProviderName, environment: KeyEnvironment, apiKey: string, staffId: string): Promise<void> {
      await repo.storeCredential(provider, environment, await cipher.encryptText(RELAY_CREDENTIALS_SUBJECT, at(provider, environment), apiKey), staffId);
      cache.delete(`${provider}:${environment}`);
    },
    async remove(provider: ProviderName, environment: KeyEnvironment): Promise<boolean> {
      cache.delete(`${provider}:${environment}`);
      return repo.deleteCredential(provider, environment);
    },
    /** Where each provider's credential comes from, per environment; never the credential. */
    async sources(): Promise<Record<ProviderName, Record<KeyEnvironment, 'stored' | 'configuration' | null>>> {
      const rows = await repo.storedCredentialList();
      const source = (p: ProviderName, e: KeyEnvironment) => (rows.some((r) => r.provider === p && r.environment === e) ? 'stored' as const
        : (e === 'live' ? configured[p].apiKey : configured[p].testApiKey) ? 'configuration' as const : null);
      const names: ProviderName[] = ['openai', 'anthropic', 'xai', 'google'];
      return Object.fromEntries(names.map((p) => [p, { live: source(p, 'live'), test: source(p, 'test') }])) as Record<ProviderName, Record<KeyEnvironment, 'stored' | 'configuration' | null>>;
    },
  };
}

export type ProviderCredentials = ReturnType<typeof createProviderCredentials>;
