import type { KeyEnvironment } from './api-keys.js';
import type { ProviderName } from './relay-catalogue.js';

export interface ApiKeyRecord {
  id: string;
  userId: string;
  limitGroupId: string;
  prefix: string;
  name: string;
  environment: KeyEnvironment;
  spendingLimitCents: number | null;
  models: string[] | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  replacedBy: string | null;
}

/** A key row with its secret material, for verification only; never leaves the relay service. */
export interface ApiKeyCredential extends ApiKeyRecord {
  salt: Buffer;
  keyHash: Buffer;
  /** The owning account's status: keys of an account pending deletion are refused. */
  ownerStatus: string;
}

export interface NewApiKey {
  id: string;
  userId: string;
  limitGroupId: string;
  prefix: string;
  salt: Buffer;
  keyHash: Buffer;
  name: string;
  environment: KeyEnvironment;
  spendingLimitCents: number | null;
  models: string[] | null;
  expiresAt: Date | null;
}

/** Fixed reasons: the only words an outcome is ever described with (no upstream text). */
export type RelayReason = 'ok' | 'upstream_error' | 'upstream_rate_limited' | 'upstream_timeout' | 'upstream_unreachable' | 'client_abort' | 'stream_error';

/** One closed relay-log record. No field can carry content. */
export interface RelayLogEntry {
  /** When the call ended (the log row's time and the usage day, whenever the row is written). */
  at: Date;
  apiKeyId: string;
  limitGroupId: string;
  userId: string;
  environment: KeyEnvironment;
  provider: ProviderName;
  model: string;
  status: number;
  reason: RelayReason;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  latencyMs: number;
  costMicrocents: number;
  period: string;
}

export interface UsageRow {
  day: string;
  apiKeyId: string;
  model: string;
  environment: KeyEnvironment;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costMicrocents: number;
}
