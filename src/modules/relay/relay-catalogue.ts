// The relay's catalogue: which `<provider>/<model>` ids exist, their prices (US dollars per 1M
// tokens, as the providers publish them) and each provider's paid-tier flag. Shipped in
// data/relay-catalogue.json, replaced as a whole by CUSTOS_RELAY_CATALOGUE_FILE. Checked at
// start: a bad file stops the process instead of mispricing calls.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROVIDERS = ['openai', 'anthropic', 'xai', 'google'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export interface CatalogueModel {
  /** `<provider>/<model>` as clients send it. */
  id: string;
  provider: ProviderName;
  /** The model name the provider knows. */
  upstreamModel: string;
  kinds: Array<'chat' | 'embedding'>;
  /** Prices in USD per 1M tokens; cachedInput defaults to input. */
  input: number;
  output: number;
  cachedInput: number;
  maxOutputTokens: number;
}

export interface Catalogue {
  providers: Record<ProviderName, { name: string; paidTier: boolean }>;
  models: CatalogueModel[];
  find(id: string): CatalogueModel | undefined;
}

const here = dirname(fileURLToPath(import.meta.url));
const shipped = [join(here, '..', '..', '..', 'data', 'relay-catalogue.json'), join(here, '..', '..', '..', '..', 'data', 'relay-catalogue.json')];
const MODEL_ID = /^(openai|anthropic|xai|google)\/([A-Za-z0-9._:-]{1,100})$/;

/** 1 USD per 1M tokens = 100 cents per 1M tokens = 100 micro-cents per token. */
export const microcentsPerToken = (usdPer1M: number) => usdPer1M * 100;

function readCatalogueFile(file?: string): unknown {
  const candidates = file ? [file] : shipped;
  for (const path of candidates) {
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      if (file) throw new Error(`relay catalogue ${file}: ${(error as Error).message}`);
    }
  }
  throw new Error('data/relay-catalogue.json is missing');
}

export function loadCatalogue(file?: string): Catalogue {
  const raw = readCatalogueFile(file) as { providers?: Record<string, { name?: string; paidTier?: unknown }>; models?: Array<Record<string, unknown>> };
  const where = file ?? 'data/relay-catalogue.json';
  const providers = {} as Catalogue['providers'];
  for (const name of PROVIDERS) {
    const p = raw.providers?.[name];
    providers[name] = { name: typeof p?.name === 'string' ? p.name : name, paidTier: p?.paidTier === true };
  }
  if (!Array.isArray(raw.models)) throw new Error(`relay catalogue ${where}: "models" must be a list`);
  const price = (m: Record<string, unknown>, field: string, fallback?: number) => {
    const value = m[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`relay catalogue ${where}: ${String(m.id)}.${field} must be a price ≥ 0 (USD per 1M tokens)`);
    return value;
  };
  const seen = new Set<string>();
  const models = raw.models.map((m): CatalogueModel => {
    const match = typeof m.id === 'string' ? MODEL_ID.exec(m.id) : null;
    if (!match) throw new Error(`relay catalogue ${where}: model id ${JSON.stringify(m.id)} must look like <openai|anthropic|xai|google>/<model>`);
    if (seen.has(m.id as string)) throw new Error(`relay catalogue ${where}: ${String(m.id)} is listed twice`);
    seen.add(m.id as string);
    const kinds: CatalogueModel['kinds'] = Array.isArray(m.kinds) && m.kinds.length ? (m.kinds as CatalogueModel['kinds']) : ['chat'];
    const input = price(m, 'input');
    return {
      id: m.id as string,
      provider: match[1] as ProviderName,
      upstreamModel: match[2],
      kinds,
      input,
      output: price(m, 'output'),
      cachedInput: price(m, 'cachedInput', input),
      maxOutputTokens: Number.isInteger(m.maxOutputTokens) ? (m.maxOutputTokens as number) : 4096,
    };
  });
  const byId = new Map(models.map((m) => [m.id, m]));
  return { providers, models, find: (id) => byId.get(id) };
}
