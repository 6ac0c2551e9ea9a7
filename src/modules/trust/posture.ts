// The trust posture: each claim is computed from the running system when asked (configuration,
// the database schema, the last backup and verification runs, the audit chain head, the relay
// log), never typed in. A claim whose evidence is missing or stale says so in its statement and
// its status instead of claiming success.
import type { Config } from '../../config.js';
import { CIPHER_NAME } from '../../platform/crypto/aead.js';
import { listOperations, type OpenApiDocument } from '../../platform/http/openapi.js';
import type { AuditService } from '../audit/audit-service.js';
import type { BackupsService } from '../backups/backups-service.js';
import type { TrustRepo } from './trust-repo.js';

export type ClaimStatus = 'ok' | 'stale' | 'missing' | 'not_applicable';

export interface Claim {
  id: string;
  statement: string;
  value: unknown;
  status: ClaimStatus;
  source: string;
  evaluatedAt: string;
}

export interface Posture {
  format: 'custos-trust-posture/1';
  generatedAt: string;
  claims: Claim[];
}

/** The relay's narrow face, optional: the relay module may not be installed. */
export interface RelayEvidence {
  oldestLogAt(): Promise<Date | null>;
  /** relay_log columns the running database would let hold free text (none, by construction). */
  logFreeTextColumns(): Promise<string[]>;
  logRetentionDays: number;
  providers(): Promise<Array<{ provider: string; paidTier: boolean; configured: boolean }>>;
}

/** What the relay claims are computed from, read once per posture. */
interface RelayFacts { oldest: Date | null; freeTextColumns: string[]; providers: Array<{ provider: string; paidTier: boolean; configured: boolean }> }

export interface PostureDeps {
  config: Pick<Config, 'bcryptCost' | 'tls' | 'hstsMaxAge' | 'masterKeys' | 'generatedSecrets' | 'backup'>;
  document: OpenApiDocument;
  backups: Pick<BackupsService, 'list'>;
  audit: Pick<AuditService, 'head'>;
  repo: Pick<TrustRepo, 'encryptedColumns' | 'latestEvidence'>;
  relay?: RelayEvidence;
}

/** Evidence older than this (a backup, a verification) no longer supports a claim of success. */
export const STALE_AFTER_MS = 48 * 3600_000;

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Staff routes that admit a staff session before TOTP is confirmed (the enrolment routes only). */
export function staffRoutesWithoutMfa(document: OpenApiDocument): string[] {
  return listOperations(document)
    .filter((op) => (op.operation.security ?? document.security ?? []).some((r) => 'staffEnrolment' in r))
    .map((op) => `${op.method.toUpperCase()} ${op.openapiPath}`)
    .sort();
}

export async function computePosture(deps: PostureDeps, now = new Date()): Promise<Posture> {
  const { config } = deps;
  const evaluatedAt = now.toISOString();
  const claim = (id: string, status: ClaimStatus, value: unknown, statement: string, source: string): Claim =>
    ({ id, statement, value, status, source, evaluatedAt });
  const fresh = (d: Date | null) => d !== null && now.getTime() - d.getTime() <= STALE_AFTER_MS;

  const [columns, dataRuns, chainHead, auditCheck, relayFacts] = await Promise.all([
    deps.repo.encryptedColumns(),
    deps.backups.list({ kind: 'data', limit: 200 }),
    deps.audit.head(),
    deps.repo.latestEvidence('audit_verification'),
    deps.relay ? readRelayFacts(deps.relay) : Promise.resolve(null),
  ]);
  const lastSucceeded = dataRuns.find((r) => r.status === 'succeeded' || (r.status === 'deleted' && r.finishedAt)) ?? null;
  const lastVerified = dataRuns
    .filter((r) => r.verifyStatus === 'passed' && r.verifiedAt)
    .sort((a, b) => b.verifiedAt!.getTime() - a.verifiedAt!.getTime())[0] ?? null;
  const succeededAt = lastSucceeded?.finishedAt ?? null;
  const verifiedAt = lastVerified?.verifiedAt ?? null;
  const staffExempt = staffRoutesWithoutMfa(deps.document);
  // Before TOTP is confirmed a staff session reaches only its own profile, logout and enrolment.
  const mfaEnforced = staffExempt.every((route) => /^\w+ \/api\/v1\/staff\/(me|me\/2fa\/.+|auth\/logout)$/.test(route));
  const hsts = config.hstsMaxAge > 0 ? { maxAgeSeconds: config.hstsMaxAge, includeSubDomains: true } : null;
  const devSecrets = config.generatedSecrets.filter((name) => name === 'CUSTOS_MASTER_KEYS');

  const claims: Claim[] = [
    claim('passwords.bcrypt_cost', 'ok', config.bcryptCost,
      `Passwords are hashed with bcrypt at cost ${config.bcryptCost} (2^${config.bcryptCost} rounds); the service refuses a cost below 12.`,
      'configuration CUSTOS_BCRYPT_COST'),
    config.tls
      ? claim('transport.tls_min_version', 'ok', config.tls.minVersion, `This service terminates TLS itself and refuses versions below ${config.tls.minVersion}.`, 'configuration CUSTOS_TLS_MIN_VERSION')
      : claim('transport.tls_min_version', 'not_applicable', null, 'TLS is terminated in front of this service (by its proxy or load balancer), so the service cannot state the minimum version itself.', 'configuration CUSTOS_TLS_CERT_FILE (unset)'),
    hsts
      ? claim('transport.hsts', 'ok', hsts, `Every response carries Strict-Transport-Security: max-age=${hsts.maxAgeSeconds}; includeSubDomains.`, 'configuration CUSTOS_HSTS_MAX_AGE')
      : claim('transport.hsts', 'missing', null, 'HSTS is switched off (CUSTOS_HSTS_MAX_AGE=0).', 'configuration CUSTOS_HSTS_MAX_AGE'),
    columns.length
      ? claim('encryption.at_rest', 'ok', { algorithm: CIPHER_NAME, keys: 'a data key per user, wrapped by a versioned master key', fields: columns },
        `${columns.length} database fields are encrypted with ${CIPHER_NAME} under per-subject data keys, bound to their table, column and row: ${columns.join(', ')}.`,
        'database schema (bytea columns *_enc written through the field cipher)')
      : claim('encryption.at_rest', 'missing', null, 'No encrypted field was found in the database schema.', 'database schema'),
    claim('keys.outside_database', devSecrets.length ? 'stale' : 'ok',
      { masterKeyVersions: [...config.masterKeys.keys()].sort((a, b) => a - b), masterKeySource: 'configuration', developmentGenerated: devSecrets.length > 0 },
      devSecrets.length
        ? 'Master keys come from configuration, never the database, but this instance runs on generated development keys.'
        : 'Master keys come from configuration (environment or file) and are never stored in the database; the database holds only wrapped data keys.',
      'configuration CUSTOS_MASTER_KEYS'),
    claim('backups.last_succeeded_at', fresh(succeededAt) ? 'ok' : succeededAt ? 'stale' : 'missing', iso(succeededAt),
      succeededAt
        ? fresh(succeededAt)
          ? `The last encrypted database backup finished at ${iso(succeededAt)}.`
          : `No encrypted database backup has succeeded in the last 48 hours; the last one finished at ${iso(succeededAt)}.`
        : 'No encrypted database backup has succeeded yet.',
      'backups service (backup_runs)'),
    claim('backups.last_verified_at', fresh(verifiedAt) ? 'ok' : verifiedAt ? 'stale' : 'missing', iso(verifiedAt),
      verifiedAt
        ? fresh(verifiedAt)
          ? `A backup was last restored into a scratch database and its row counts checked at ${iso(verifiedAt)}.`
          : `No backup has been verified by a test restore in the last 48 hours; the last verification passed at ${iso(verifiedAt)}.`
        : 'No backup has been verified by a test restore yet.',
      'backups service (restore tests)'),
    claim('keystore.backup_retention_days', 'ok', config.backup.keystoreRetentionDays,
      `Key-store backups are kept ${config.backup.keystoreRetentionDays} days, apart from the data backups; after that, data of a deleted account is unreadable in every older backup.`,
      'configuration CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS'),
    claim('audit.chain_head', 'ok', { seq: chainHead.seq, chainHash: chainHead.chainHash.toString('hex') },
      `The staff-access audit trail is hash-chained; its head is event #${chainHead.seq}.`, 'audit service (chain head)'),
    auditVerificationClaim(auditCheck, fresh, claim),
    claim('staff.mfa_enforced', mfaEnforced ? 'ok' : 'missing', mfaEnforced,
      mfaEnforced
        ? `Every staff route requires a confirmed TOTP second factor; only the enrolment routes (${staffExempt.join(', ')}) admit a staff session before it.`
        : `Some staff routes admit a session without a confirmed second factor: ${staffExempt.join(', ')}.`,
      'API contract (security requirements enforced by the authorization layer)'),
    ...relayClaims(deps.relay, relayFacts, claim),
  ];
  return { format: 'custos-trust-posture/1', generatedAt: evaluatedAt, claims };
}

type ClaimFactory = (id: string, status: ClaimStatus, value: unknown, statement: string, source: string) => Claim;

function auditVerificationClaim(check: { ok: boolean; recordedAt: Date; detail: Record<string, unknown> } | null, fresh: (d: Date | null) => boolean, claim: ClaimFactory): Claim {
  const source = 'audit service (full verification runs)';
  if (!check) return claim('audit.last_verified_at', 'missing', null, 'The audit trail has not been verified end to end yet.', source);
  if (!check.ok) return claim('audit.last_verified_at', 'missing', null, `The last verification of the audit trail, at ${iso(check.recordedAt)}, found a break: ${String(check.detail.message ?? 'see the audit service')}.`, source);
  if (!fresh(check.recordedAt)) return claim('audit.last_verified_at', 'stale', iso(check.recordedAt), `The audit trail has not been verified in the last 48 hours; it was last found intact at ${iso(check.recordedAt)}.`, source);
  return claim('audit.last_verified_at', 'ok', iso(check.recordedAt), `The audit trail was last verified intact (every hash and signed checkpoint) at ${iso(check.recordedAt)}.`, source);
}

async function readRelayFacts(relay: RelayEvidence): Promise<RelayFacts> {
  const [oldest, freeTextColumns, providers] = await Promise.all([relay.oldestLogAt(), relay.logFreeTextColumns(), relay.providers()]);
  return { oldest, freeTextColumns, providers };
}

function relayClaims(relay: RelayEvidence | undefined, facts: RelayFacts | null, claim: ClaimFactory): Claim[] {
  if (!relay || !facts) {
    const absent = 'The API relay is not installed on this instance, so there is nothing to state.';
    return [
      claim('relay.content_retained', 'not_applicable', null, absent, 'relay module (not installed)'),
      claim('relay.log_retention_days', 'not_applicable', null, absent, 'relay module (not installed)'),
      claim('providers', 'not_applicable', null, absent, 'relay module (not installed)'),
    ];
  }
  const { oldest, freeTextColumns } = facts;
  const ageDays = oldest ? (Date.now() - oldest.getTime()) / 86_400_000 : null;
  const withinWindow = ageDays === null || ageDays <= relay.logRetentionDays + 1;
  const providers = facts.providers.filter((p) => p.configured).map((p) => ({ id: p.provider, paidTier: p.paidTier }));
  const closed = freeTextColumns.length === 0;
  return [
    claim('relay.content_retained', closed ? 'ok' : 'missing', !closed,
      closed
        ? 'The relay log holds metadata only (time, key, model, tokens, cost): in the running database every text column of relay_log is narrowed to a fixed vocabulary by a CHECK constraint, so no prompt or completion can be stored there.'
        : `The relay log has columns that could hold free text (${freeTextColumns.join(', ')}): content retention cannot be ruled out.`,
      'database schema (relay_log columns and CHECK constraints)'),
    claim('relay.log_retention_days', withinWindow ? 'ok' : 'stale', { days: relay.logRetentionDays, oldestLogAt: iso(oldest) },
      withinWindow
        ? `Relay log rows are purged after ${relay.logRetentionDays} days; the oldest row is ${oldest ? `from ${iso(oldest)}` : 'none (the log is empty)'}.`
        : `Relay log rows should be purged after ${relay.logRetentionDays} days, but the oldest row is from ${iso(oldest)}: the purge is behind.`,
      'relay module (oldest relay log row)'),
    claim('providers', 'ok', providers.map((p) => ({ id: p.id, paidTier: p.paidTier })),
      providers.length
        ? `Upstream AI providers: ${providers.map((p) => `${p.id} (${p.paidTier ? 'paid tier' : 'not a paid production tier: the provider may train on requests, so chats refuse it'})`).join(', ')}.`
        : 'No upstream AI provider is configured.',
      'relay module (configured providers)'),
  ];
}
