// Environment -> typed, validated configuration. Fails fast and names the bad variable.
// Every setting is declared once in `settings` with its default and a doc line; the README's
// configuration table is printed from it (`custos config docs`), so the two cannot drift.
import { existsSync, readFileSync } from 'node:fs';
import { checkoutDatabaseName, databaseNameOf, roleNameFor, userOf, withCredentials } from './platform/database-names.js';

export type Environment = 'development' | 'test' | 'production';

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

interface Setting<T> {
  doc: string;
  default?: string;
  /** Secrets are never echoed back, not even in error messages. */
  secret?: boolean;
  parse: (raw: string, name: string) => T;
}

const text = (raw: string) => raw;
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => (raw: string, name: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return n;
};
const boolean = (raw: string, name: string) => {
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
};
const oneOf = <T extends string>(...values: T[]) => (raw: string, name: string): T => {
  if (!values.includes(raw as T)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
};
const url = (...protocols: string[]) => (raw: string, name: string) => {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  }
  return raw;
};
const timeZone = (raw: string, name: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    throw new ConfigError(name, `must be an IANA time zone such as Europe/Berlin, got "${raw}"`);
  }
  return raw;
};
// RFC 9116 §2.5.3: each Contact is a URI; an email address must be a mailto: URI.
const contactUris = (raw: string, name: string) => {
  for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
    if (!/^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+|tel:\+?[0-9-]+)$/.test(entry)) throw new ConfigError(name, `"${entry}" must be a mailto:, https: or tel: URI`);
  }
  return raw === '' ? undefined : raw;
};
const optionalText = (raw: string) => (raw === '' ? undefined : raw);
const optionalPostgresUrl = (raw: string, name: string) => (raw === '' ? undefined : url('postgres:', 'postgresql:')(raw, name));

/** "1:<base64 32 bytes>,2:<base64 32 bytes>" -> Map(version -> key). */
export function parseMasterKeys(raw: string, name = 'CUSTOS_MASTER_KEYS'): Map<number, Buffer> {
  const keys = new Map<number, Buffer>();
  for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^(\d+):([A-Za-z0-9+/=_-]+)$/.exec(entry);
    if (!match) throw new ConfigError(name, 'each entry must look like <version>:<base64 key>');
    const key = Buffer.from(match[2], 'base64');
    if (key.length !== 32) throw new ConfigError(name, `key version ${match[1]} must be 32 bytes (base64), got ${key.length}`);
    const version = Number(match[1]);
    if (version < 1 || keys.has(version)) throw new ConfigError(name, `key version ${match[1]} is invalid or repeated`);
    keys.set(version, key);
  }
  if (keys.size === 0) throw new ConfigError(name, 'must hold at least one key');
  return keys;
}

const secretBytes = (minBytes: number) => (raw: string, name: string) => {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length < minBytes) throw new ConfigError(name, `must be at least ${minBytes} bytes, base64-encoded`);
  return bytes;
};

const settings = {
  NODE_ENV: { doc: 'development, test or production. Production refuses generated secrets.', default: 'development', parse: oneOf<Environment>('development', 'test', 'production') },
  HOST: { doc: 'Interface the HTTP API listens on.', default: '0.0.0.0', parse: text },
  PORT: { doc: 'HTTP port (HTTPS port when TLS is on).', default: '8080', parse: integer(0, 65535) },
  PUBLIC_URL: { doc: 'Base URL users reach the API at; used in links (one-time receipt links, docs).', default: '', parse: optionalText },
  DATABASE_URL: { doc: 'PostgreSQL 15+ connection URL of serve, worker, scheduler and operator commands. In production it must connect as the runtime role (not a superuser, not the audit tables\' owner). In development and test a privileged URL is allowed: the processes then connect as CUSTOS_DATABASE_RUNTIME_ROLE instead. In development, unset (or without a database name) it means this checkout\'s own database, custos_<directory>_<hash of its path>.', default: 'postgres://postgres@127.0.0.1:5432/custos', parse: url('postgres:', 'postgresql:') },
  DATABASE_READ_URL: { doc: 'Optional PostgreSQL read replica (a streaming standby of DATABASE_URL\'s server) for listing routes that tolerate replica lag: a user\'s chat and file lists, relay usage, the public sub-processor and document lists and the trust page. The audit trail, session and API-key checks, exports, deletions and every read that follows the caller\'s own write stay on the primary. Unset: everything uses DATABASE_URL. It connects as the runtime role like DATABASE_URL (outside production a privileged URL is swapped for it); without a database name it means DATABASE_URL\'s database.', default: '', parse: optionalPostgresUrl },
  CUSTOS_MIGRATION_DATABASE_URL: { doc: 'Owner connection of `custos migrate` (creates the tables, the NOLOGIN audit owner role and the runtime role). Defaults to DATABASE_URL; never needed by serve, worker or scheduler.', parse: optionalPostgresUrl },
  CUSTOS_DATABASE_RUNTIME_ROLE: { doc: 'Role serve, worker and scheduler connect as, created and granted by `custos migrate`. Default: the user of DATABASE_URL when it differs from the migration connection\'s, else <database>_runtime (one role per database, so databases sharing a cluster never share one).', parse: (raw: string, name: string) => {
    if (raw === '') return undefined;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new ConfigError(name, 'must be a lower-case PostgreSQL identifier of at most 63 characters');
    return raw;
  } },
  CUSTOS_DATABASE_RUNTIME_PASSWORD: { doc: 'Password `custos migrate` gives the runtime role when DATABASE_URL does not carry it (development: generated into the development secrets).', secret: true, parse: optionalText },
  DATABASE_POOL_MAX: { doc: 'Maximum PostgreSQL connections per process.', default: '10', parse: integer(1, 200) },
  REDIS_URL: { doc: 'Redis 7 URL (BullMQ queues and rate-limit counters only).', default: 'redis://127.0.0.1:6379', parse: url('redis:', 'rediss:') },
  CUSTOS_REDIS_SENTINELS: { doc: 'Redis Sentinel addresses "host:port,host:port,…"; when set, Custos asks them for the primary of CUSTOS_REDIS_SENTINEL_NAME and follows failovers (REDIS_URL then only supplies password and database).', default: '', parse: optionalText },
  CUSTOS_REDIS_SENTINEL_NAME: { doc: 'Name of the monitored primary (the `sentinel monitor <name>` of the sentinels).', default: 'mymaster', parse: text },
  CUSTOS_QUEUE_PREFIX: { doc: 'Prefix of every BullMQ and rate-limit key in Redis (development: the database name, so checkouts sharing a Redis never run each other\'s jobs).', default: 'custos', parse: text },
  CUSTOS_MASTER_KEYS: { doc: 'Versioned master keys (KEKs) wrapping the per-user data keys: "1:<base64 32 bytes>,2:<…>". The highest version wraps new keys. Never stored in the database.', secret: true, parse: (raw: string, name: string) => parseMasterKeys(raw, name) },
  CUSTOS_MASTER_KEYS_FILE: { doc: 'File holding CUSTOS_MASTER_KEYS instead of the environment.', parse: optionalText },
  CUSTOS_API_KEY_PEPPER: { doc: 'Server pepper (base64, ≥ 32 bytes) mixed into API-key and recovery-code hashes.', secret: true, parse: secretBytes(32) },
  CUSTOS_API_KEY_PEPPER_FILE: { doc: 'File holding CUSTOS_API_KEY_PEPPER.', parse: optionalText },
  CUSTOS_SIGNING_KEY: { doc: 'Ed25519 private key (PKCS#8 PEM or its base64) signing deletion receipts, audit checkpoints and backup manifests.', secret: true, parse: text },
  CUSTOS_SIGNING_KEY_FILE: { doc: 'File holding CUSTOS_SIGNING_KEY.', parse: optionalText },
  CUSTOS_DEV_SECRETS_FILE: { doc: 'Development only: where generated secrets are kept (mode 0600, git-ignored).', default: '.custos/dev-secrets.env', parse: text },
  CUSTOS_BCRYPT_COST: { doc: 'bcrypt cost for passwords; values below 12 are refused.', default: '12', parse: integer(12, 16) },
  CUSTOS_SESSION_TTL_HOURS: { doc: 'Absolute lifetime of a login session.', default: '12', parse: integer(1, 24 * 90) },
  CUSTOS_SESSION_IDLE_MINUTES: { doc: 'A session unused this long expires.', default: '30', parse: integer(1, 24 * 60) },
  CUSTOS_SESSION_CACHE_TTL_MS: { doc: 'How long an API process may answer from what a session token resolved to, without reading the database again (0: never cache). A revocation, lock or deletion request still takes effect at once: every replica drops the entry when the database announces the change (LISTEN/NOTIFY on the primary), and nothing is cached while that subscription is down.', default: '5000', parse: integer(0, 60_000) },
  CUSTOS_SESSION_PURGE_AFTER_MINUTES: { doc: 'A revoked, expired or idle-expired session is deleted this long after it ended (the scheduler checks every 15 minutes).', default: '60', parse: integer(0, 30 * 24 * 60) },
  CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT: { doc: 'Failed logins per account within the window before 429.', default: '5', parse: integer(1) },
  CUSTOS_LOGIN_MAX_FAILURES_PER_IP: { doc: 'Failed logins per client IP within the window before 429.', default: '20', parse: integer(1) },
  CUSTOS_LOGIN_WINDOW_SECONDS: { doc: 'Window of the failed-login counters (and the lockout length).', default: '900', parse: integer(1) },
  CUSTOS_REGISTER_MAX_PER_IP: { doc: 'Registration attempts per client IP within the window before 429 (successful ones count too).', default: '10', parse: integer(1) },
  CUSTOS_REGISTER_MAX_PER_EMAIL: { doc: 'Registration attempts per email address within the window before 429 (bounds probing whether one address has an account).', default: '3', parse: integer(1) },
  CUSTOS_REGISTER_WINDOW_SECONDS: { doc: 'Window of the registration counters.', default: '3600', parse: integer(1) },
  CUSTOS_TOTP_ISSUER: { doc: 'Issuer shown in authenticator apps.', default: 'Custos', parse: text },
  CUSTOS_BODY_LIMIT_BYTES: { doc: 'Largest JSON request body accepted (413 beyond).', default: '1048576', parse: integer(1024) },
  CUSTOS_UPLOAD_LIMIT_BYTES: { doc: 'Largest uploaded file accepted (413 beyond).', default: '26214400', parse: integer(1024) },
  CUSTOS_EXTRACTION_TIMEOUT_MS: { doc: 'Wall-clock time one upload\'s text extraction may take; its worker thread is then terminated and the upload refused (422, limit "time").', default: '30000', parse: integer(100, 600000) },
  CUSTOS_EXTRACTION_MAX_PAGES: { doc: 'PDFs with more pages are refused before any page is read (422, limit "pages").', default: '2000', parse: integer(1, 1000000) },
  CUSTOS_EXTRACTION_MAX_HEAP_MB: { doc: 'V8 heap cap (MiB) of each extraction worker thread; a file needing more is refused (422, limit "memory").', default: '256', parse: integer(32, 16384) },
  CUSTOS_EXTRACTION_MAX_INFLATED_BYTES: { doc: 'Bytes a DOCX/XLSX may really inflate to, counted while inflating whatever the zip declares (422, limit "inflatedSize").', default: '268435456', parse: integer(1024) },
  CUSTOS_EXTRACTION_MAX_ZIP_ENTRIES: { doc: 'Entries a DOCX/XLSX zip may hold (422, limit "entries").', default: '10000', parse: integer(10, 65535) },
  CUSTOS_EXTRACTION_MAX_XML_DEPTH: { doc: 'Element nesting depth allowed in a DOCX/XLSX\'s XML parts (422, limit "nesting").', default: '256', parse: integer(16, 100000) },
  CUSTOS_EXTRACTION_CONCURRENCY: { doc: 'Extraction worker threads running at once per API process (each holds up to CUSTOS_EXTRACTION_MAX_HEAP_MB plus the file).', default: '2', parse: integer(1, 64) },
  CUSTOS_EXTRACTION_QUEUE_LENGTH: { doc: 'Uploads waiting for a free extraction worker; beyond it an upload gets 503 with Retry-After.', default: '8', parse: integer(0, 10000) },
  CUSTOS_TRUST_PROXY: { doc: 'Express "trust proxy" setting: hops or subnets whose X-Forwarded-For is believed.', default: 'loopback', parse: text },
  CUSTOS_TLS_CERT_FILE: { doc: 'PEM certificate; with CUSTOS_TLS_KEY_FILE, Custos terminates TLS itself.', parse: optionalText },
  CUSTOS_TLS_KEY_FILE: { doc: 'PEM private key for CUSTOS_TLS_CERT_FILE.', parse: optionalText },
  CUSTOS_TLS_MIN_VERSION: { doc: 'Lowest TLS version accepted: TLSv1.2 or TLSv1.3.', default: 'TLSv1.2', parse: oneOf('TLSv1.2', 'TLSv1.3') },
  CUSTOS_HTTP_REDIRECT_PORT: { doc: 'With TLS on, a plain-HTTP listener on this port redirects to HTTPS (0 = none).', default: '0', parse: integer(0, 65535) },
  CUSTOS_HSTS_MAX_AGE: { doc: 'Strict-Transport-Security max-age in seconds.', default: '31536000', parse: integer(0) },
  CUSTOS_VALIDATE_RESPONSES: { doc: 'Validate every response against the OpenAPI spec (on in tests; useful in development).', default: 'false', parse: boolean },
  CUSTOS_METRICS_TOKEN: { doc: 'GET /metrics on the API port requires "Authorization: Bearer <token>" (at least 32 characters); unset, /metrics is not served there (404). `npm start` generates one into the development secrets file.', secret: true, parse: (raw: string, name: string) => {
    if (raw === '') return undefined;
    if (raw.length < 32) throw new ConfigError(name, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)');
    return raw;
  } },
  CUSTOS_METRICS_TOKEN_FILE: { doc: 'File holding CUSTOS_METRICS_TOKEN.', parse: optionalText },
  CUSTOS_METRICS_PORT: { doc: 'If not 0, a second listener on 127.0.0.1:<port> serves GET /metrics without a token (for a scraper on the same host or pod).', default: '0', parse: integer(0, 65535) },
  CUSTOS_LOG_LEVEL: { doc: 'pino log level.', default: 'info', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') },
  CUSTOS_ARTIFACT_DIR: { doc: 'Local directory of the artifact storage (uploaded files, exports).', default: 'var/artifacts', parse: text },
  CUSTOS_STORAGE_DRIVER: { doc: 'Where artifacts (uploaded files, exports) live: local (CUSTOS_ARTIFACT_DIR) or s3 (CUSTOS_S3_BUCKET on an S3-compatible store).', default: 'local', parse: oneOf('local', 's3') },
  CUSTOS_S3_ENDPOINT: { doc: 'S3 API endpoint for non-AWS stores (MinIO, Ceph, R2 …), e.g. http://minio:9000; empty for AWS. Credentials come from the AWS SDK chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance or task role).', default: '', parse: optionalText },
  CUSTOS_S3_REGION: { doc: 'Region of the S3 buckets.', default: 'us-east-1', parse: text },
  CUSTOS_S3_FORCE_PATH_STYLE: { doc: 'Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> (most non-AWS stores need true).', default: 'false', parse: boolean },
  CUSTOS_S3_BUCKET: { doc: 'Bucket of the artifacts when CUSTOS_STORAGE_DRIVER=s3.', default: '', parse: optionalText },
  CUSTOS_BACKUP_S3_BUCKET: { doc: 'If set, data backups and their manifests go to this bucket instead of CUSTOS_BACKUP_DIR; must differ from the artifact and key-store buckets.', default: '', parse: optionalText },
  CUSTOS_KEYSTORE_BACKUP_S3_BUCKET: { doc: 'If set, key-store backups go to this bucket instead of CUSTOS_KEYSTORE_BACKUP_DIR; must differ from the artifact and data-backup buckets.', default: '', parse: optionalText },
  CUSTOS_BACKUP_PASSPHRASE: { doc: 'Passphrase of the encrypted database backups (AES-256-CBC, PBKDF2-HMAC-SHA256, 100,000 iterations). Optional for the service; every backup command refuses to run without it.', secret: true, parse: optionalText },
  CUSTOS_BACKUP_PASSPHRASE_FILE: { doc: 'File holding CUSTOS_BACKUP_PASSPHRASE (surrounding whitespace is trimmed).', parse: optionalText },
  CUSTOS_BACKUP_DIR: { doc: 'Directory of the encrypted data backups and their signed manifests; keep it apart from CUSTOS_ARTIFACT_DIR.', default: 'var/backups', parse: text },
  CUSTOS_KEYSTORE_BACKUP_DIR: { doc: 'Directory of the key-store backups (wrapped data keys), kept apart from the data backups.', default: 'var/keystore-backups', parse: text },
  CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS: { doc: 'Key-store backups older than this are deleted; after it, crypto-shredded data in older data backups is unreadable.', default: '7', parse: integer(1, 3650) },
  CUSTOS_BACKUP_KEEP_DAILY: { doc: 'Data backups kept: the newest of each of this many recent days.', default: '7', parse: integer(0, 3650) },
  CUSTOS_BACKUP_KEEP_WEEKLY: { doc: 'Data backups kept: the newest of each of this many recent ISO weeks.', default: '4', parse: integer(0, 520) },
  CUSTOS_BACKUP_KEEP_MONTHLY: { doc: 'Data backups kept: the newest of each of this many recent months.', default: '6', parse: integer(0, 1200) },
  CUSTOS_BACKUP_STALE_PARTIAL_HOURS: { doc: 'Prune removes unfinished backup files (*.partial) older than this: a running backup keeps writing to its own, so it is never this old.', default: '6', parse: integer(1, 24) },
  CUSTOS_BACKUP_CRON: { doc: 'node-cron schedule of the nightly backup, verify and prune (server time zone).', default: '30 2 * * *', parse: text },
  CUSTOS_SHUTDOWN_GRACE_MS: { doc: 'How long SIGTERM waits for in-flight requests and jobs.', default: '10000', parse: integer(0) },
  CUSTOS_DELETION_GRACE_DAYS: { doc: 'Days between an account deletion request and the erasure (0 = at once); the user can cancel meanwhile.', default: '7', parse: integer(0, 30) },
  CUSTOS_EXPORT_TTL_DAYS: { doc: 'Days a finished data export can be downloaded before it is deleted.', default: '7', parse: integer(1, 30) },
  CUSTOS_DELETION_BATCH_ROWS: { doc: 'Rows an account deletion removes per transaction (each batch records its count).', default: '1000', parse: integer(100, 100000) },
  CUSTOS_DELETION_PAUSE_MS: { doc: 'Pause between deletion batches, leaving the database to other users\' queries.', default: '20', parse: integer(0, 10000) },
  CUSTOS_JOB_LEASE_MS: { doc: 'Lease of a worker on a privacy request or backup run (renewed every third of it while the job runs); another worker may take the job over only once it has expired.', default: '60000', parse: integer(1000, 3_600_000) },
  CUSTOS_AUDIT_RETENTION_DAYS: { doc: 'Audit-trail entries older than this are purged, only in whole signed-checkpoint ranges (the purge is itself recorded).', default: '400', parse: integer(1, 36500) },
  CUSTOS_SECURITY_CONTACT: { doc: 'security.txt Contact (RFC 9116): comma-separated mailto:, https: or tel: URIs, in order of preference. Without it /.well-known/security.txt answers 404.', default: '', parse: contactUris },
  CUSTOS_SECURITY_POLICY_URL: { doc: 'security.txt Policy: the vulnerability disclosure policy (default: PUBLIC_URL/trust#report).', default: '', parse: optionalText },
  CUSTOS_SECURITY_ACKNOWLEDGMENTS_URL: { doc: 'security.txt Acknowledgments (default: PUBLIC_URL/api/v1/trust/acknowledgements).', default: '', parse: optionalText },
  CUSTOS_SECURITY_LANGUAGES: { doc: 'security.txt Preferred-Languages: comma-separated language tags (RFC 5646).', default: 'en', parse: text },
  CUSTOS_SECURITY_ENCRYPTION_URL: { doc: 'security.txt Encryption: URI of the OpenPGP key reporters should encrypt to; the field is left out when empty.', default: '', parse: optionalText },
  CUSTOS_SECURITY_TXT_EXPIRES_DAYS: { doc: 'security.txt Expires is renewed on every request to this many days ahead (RFC 9116 advises under a year).', default: '180', parse: integer(1, 364) },
  CUSTOS_TRUST_POSTURE_CACHE_SECONDS: { doc: 'The signed trust posture is recomputed at most this often per process (and served with this max-age).', default: '30', parse: integer(0, 3600) },
  CUSTOS_TRUST_RATE_LIMIT_PER_MINUTE: { doc: 'Requests per client IP per minute to the public trust-centre routes (Redis counters) before 429.', default: '120', parse: integer(1) },
  CUSTOS_TRUST_SUBPROCESSOR_NOTICE_DAYS: { doc: 'Default notice (days) between announcing a sub-processor change and its taking effect.', default: '30', parse: integer(0, 365) },
  CUSTOS_TRUST_AUTO_APPROVE_DOMAINS: { doc: 'Comma-separated email domains whose requests for restricted trust documents are approved without staff (the link still goes to that mailbox).', default: '', parse: text },
  CUSTOS_TRUST_GRANT_HOURS: { doc: 'Hours a restricted-document grant lasts after the NDA is accepted.', default: '72', parse: integer(1, 24 * 90) },
  CUSTOS_TRUST_NDA_FILE: { doc: 'File holding the NDA text of the click-through (its SHA-256 is recorded with each acceptance); a built-in text otherwise.', parse: optionalText },
  CUSTOS_TRUST_TIME_ZONE: { doc: 'IANA time zone whose weekends business-day deadlines skip (vulnerability timelines).', default: 'UTC', parse: timeZone },
  CUSTOS_AUDIT_STAFF_DISPLAY: { doc: 'How a user\'s access log names staff: pseudonym (stable staff-… id) or email.', default: 'pseudonym', parse: oneOf('pseudonym', 'email') },
  CUSTOS_RELAY_LOG_RETENTION_DAYS: { doc: 'Relay log rows (metadata only: time, key, model, status, tokens, latency, cost) older than this are purged by the scheduler.', default: '7', parse: integer(1, 365) },
  CUSTOS_RELAY_CATALOGUE_FILE: { doc: 'JSON file replacing the shipped relay catalogue data/relay-catalogue.json (models, prices in USD per 1M tokens, providers\' paid-tier flags).', parse: optionalText },
  CUSTOS_RELAY_CURRENCY: { doc: 'ISO 4217 currency relay usage is charged in on the credit ledger (catalogue prices are read in it).', default: 'USD', parse: text },
  CUSTOS_RELAY_UPSTREAM_TIMEOUT_MS: { doc: 'A provider silent this long (before its response, or between two stream chunks) fails the call with 504.', default: '60000', parse: integer(100, 600000) },
  CUSTOS_RELAY_KEEPALIVE_MS: { doc: 'While a stream\'s provider is silent, an SSE comment is sent this often so proxies keep the connection.', default: '15000', parse: integer(50, 120000) },
  CUSTOS_KNOWLEDGE_EMBEDDING_MODEL: { doc: 'Catalogue id of the embedding model that indexes smart folders\' files and embeds search queries (a model with kind "embedding" in the relay catalogue).', default: 'openai/text-embedding-3-small', parse: text },
  CUSTOS_KNOWLEDGE_CHUNK_CHARS: { doc: 'Longest chunk (characters) a file\'s extracted text is cut into for the knowledge base; chunks end on sentence, then word boundaries.', default: '1200', parse: integer(200, 20000) },
  CUSTOS_KNOWLEDGE_CHUNK_OVERLAP_CHARS: { doc: 'About this many characters of a chunk\'s end (whole sentences) start the next chunk, so a passage across a boundary is found whole.', default: '200', parse: integer(0, 10000) },
  CUSTOS_KNOWLEDGE_EMBEDDING_BATCH: { doc: 'Chunks per embeddings request; each batch is stored (and the job\'s progress advanced) in one transaction, so a restarted job resumes at the next batch.', default: '64', parse: integer(1, 2048) },
  CUSTOS_KNOWLEDGE_CACHE_MB: { doc: 'Per-process cache (MiB) of knowledge-base vector ciphertext, keyed by immutable segment id; searches still decrypt every segment they score. 0 turns it off.', default: '256', parse: integer(0, 65536) },
  CUSTOS_KNOWLEDGE_RETRY_DELAY_MS: { doc: 'First retry delay of a failed indexing job (doubling per attempt, 5 attempts).', default: '5000', parse: integer(10, 3600000) },
  CUSTOS_PROVIDER_OPENAI_BASE_URL: { doc: 'OpenAI API base URL for the relay (https required outside development and test).', default: 'https://api.openai.com/v1', parse: url('https:', 'http:') },
  CUSTOS_PROVIDER_OPENAI_API_KEY: { doc: 'OpenAI API key used for live relay keys (cus_live_…). Unset: only a credential stored through the admin route can serve it.', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_OPENAI_TEST_API_KEY: { doc: 'OpenAI API key used for test relay keys (cus_test_…); without it test keys cannot reach OpenAI (never the live key).', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_ANTHROPIC_BASE_URL: { doc: 'Anthropic API base URL for the relay (https required outside development and test).', default: 'https://api.anthropic.com/v1', parse: url('https:', 'http:') },
  CUSTOS_PROVIDER_ANTHROPIC_API_KEY: { doc: 'Anthropic API key used for live relay keys (cus_live_…). Unset: only a credential stored through the admin route can serve it.', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_ANTHROPIC_TEST_API_KEY: { doc: 'Anthropic API key used for test relay keys (cus_test_…); without it test keys cannot reach Anthropic (never the live key).', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_XAI_BASE_URL: { doc: 'xAI API base URL for the relay (https required outside development and test).', default: 'https://api.x.ai/v1', parse: url('https:', 'http:') },
  CUSTOS_PROVIDER_XAI_API_KEY: { doc: 'xAI API key used for live relay keys (cus_live_…). Unset: only a credential stored through the admin route can serve it.', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_XAI_TEST_API_KEY: { doc: 'xAI API key used for test relay keys (cus_test_…); without it test keys cannot reach xAI (never the live key).', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_GOOGLE_BASE_URL: { doc: 'Google Gemini API base URL for the relay (https required outside development and test).', default: 'https://generativelanguage.googleapis.com/v1beta', parse: url('https:', 'http:') },
  CUSTOS_PROVIDER_GOOGLE_API_KEY: { doc: 'Google Gemini API key used for live relay keys (cus_live_…). Unset: only a credential stored through the admin route can serve it.', secret: true, parse: optionalText },
  CUSTOS_PROVIDER_GOOGLE_TEST_API_KEY: { doc: 'Google Gemini API key used for test relay keys (cus_test_…); without it test keys cannot reach Google Gemini (never the live key).', secret: true, parse: optionalText },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof settings;
export type SettingName = keyof Settings;
type Parsed<K extends SettingName> = Settings[K] extends Setting<infer T> ? T : never;

export interface Config {
  env: Environment;
  host: string;
  port: number;
  publicUrl?: string;
  /** What serve, worker, scheduler and operator commands connect with (the runtime role). */
  databaseUrl: string;
  /** The read replica of listing routes (runtime role as well); undefined: they read the primary. */
  databaseReadUrl?: string;
  database: {
    name: string;
    /** The owner connection of `custos migrate`. */
    migrationUrl: string;
    runtimeRole: string;
    runtimePassword?: string;
  };
  databasePoolMax: number;
  devSecretsFile: string;
  redisUrl: string;
  /** Redis Sentinel: the sentinels and the name of the primary they monitor. */
  redisSentinel?: { sentinels: Array<{ host: string; port: number }>; name: string };
  queuePrefix: string;
  masterKeys: Map<number, Buffer>;
  apiKeyPepper: Buffer;
  signingKeyPem: string;
  bcryptCost: number;
  session: { ttlHours: number; idleMinutes: number; purgeAfterMinutes: number; cacheTtlMs: number };
  loginLimits: { perAccount: number; perIp: number; windowSeconds: number };
  registrationLimits: { perIp: number; perEmail: number; windowSeconds: number };
  totpIssuer: string;
  bodyLimitBytes: number;
  uploadLimitBytes: number;
  extraction: {
    timeoutMs: number; maxPages: number; maxHeapMb: number; maxInflatedBytes: number; maxZipEntries: number; maxXmlDepth: number;
    concurrency: number; queueLength: number;
  };
  trustProxy: string;
  tls?: { certFile: string; keyFile: string; minVersion: 'TLSv1.2' | 'TLSv1.3'; redirectPort: number };
  hstsMaxAge: number;
  validateResponses: boolean;
  metricsToken?: string;
  /** Loopback-only metrics listener; 0 = none. */
  metricsPort: number;
  logLevel: string;
  artifactDir: string;
  storage: { driver: 'local' | 's3'; s3: { endpoint?: string; region: string; forcePathStyle: boolean; bucket?: string; backupBucket?: string; keystoreBackupBucket?: string } };
  backup: { passphrase?: string; dir: string; keystoreDir: string; keystoreRetentionDays: number; keep: { daily: number; weekly: number; monthly: number }; stalePartialHours: number; cron: string };
  /** Lease length of a worker on a durable job (privacy request, backup run). */
  jobLeaseMs: number;
  shutdownGraceMs: number;
  privacy: { deletionGraceDays: number; exportTtlDays: number; deletionBatchRows: number; deletionPauseMs: number };
  audit: { retentionDays: number; staffDisplay: 'pseudonym' | 'email' };
  relay: RelayConfig;
  knowledge: { embeddingModel: string; chunkChars: number; overlapChars: number; embeddingBatch: number; cacheMb: number; retryDelayMs: number };
  trust: {
    securityTxt: { contact: string[]; policyUrl?: string; acknowledgmentsUrl?: string; languages: string[]; encryptionUrl?: string; expiresDays: number };
    postureCacheSeconds: number;
    rateLimitPerMinute: number;
    timeZone: string;
    subprocessorNoticeDays: number;
    autoApproveDomains: string[];
    grantHours: number;
    ndaFile?: string;
  };
  /** Names of secrets that were generated for development, so the start-up can say so. */
  generatedSecrets: string[];
}

export interface ProviderSettings {
  baseUrl: string;
  apiKey?: string;
  testApiKey?: string;
}

export interface RelayConfig {
  logRetentionDays: number;
  catalogueFile?: string;
  currency: string;
  upstreamTimeoutMs: number;
  keepAliveMs: number;
  providers: Record<'openai' | 'anthropic' | 'xai' | 'google', ProviderSettings>;
}

type Env = Record<string, string | undefined>;

/** Prompts travel to providers over authenticated HTTPS: plain http only on a laptop or in tests. */
function relayConfig(env: Env, environment: Environment): RelayConfig {
  const provider = <B extends SettingName, K extends SettingName, T extends SettingName>(base: B, key: K, testKey: T): ProviderSettings => {
    const baseUrl = read(env, base) as string;
    if (environment === 'production' && !baseUrl.startsWith('https:')) throw new ConfigError(base, 'must use https outside development and test');
    return { baseUrl: baseUrl.replace(/\/+$/, ''), apiKey: read(env, key) as string | undefined, testApiKey: read(env, testKey) as string | undefined };
  };
  const currency = read(env, 'CUSTOS_RELAY_CURRENCY')!;
  if (!/^[A-Z]{3}$/.test(currency)) throw new ConfigError('CUSTOS_RELAY_CURRENCY', 'must be an ISO 4217 code such as USD');
  return {
    logRetentionDays: read(env, 'CUSTOS_RELAY_LOG_RETENTION_DAYS')!,
    catalogueFile: read(env, 'CUSTOS_RELAY_CATALOGUE_FILE'),
    currency,
    upstreamTimeoutMs: read(env, 'CUSTOS_RELAY_UPSTREAM_TIMEOUT_MS')!,
    keepAliveMs: read(env, 'CUSTOS_RELAY_KEEPALIVE_MS')!,
    providers: {
      openai: provider('CUSTOS_PROVIDER_OPENAI_BASE_URL', 'CUSTOS_PROVIDER_OPENAI_API_KEY', 'CUSTOS_PROVIDER_OPENAI_TEST_API_KEY'),
      anthropic: provider('CUSTOS_PROVIDER_ANTHROPIC_BASE_URL', 'CUSTOS_PROVIDER_ANTHROPIC_API_KEY', 'CUSTOS_PROVIDER_ANTHROPIC_TEST_API_KEY'),
      xai: provider('CUSTOS_PROVIDER_XAI_BASE_URL', 'CUSTOS_PROVIDER_XAI_API_KEY', 'CUSTOS_PROVIDER_XAI_TEST_API_KEY'),
      google: provider('CUSTOS_PROVIDER_GOOGLE_BASE_URL', 'CUSTOS_PROVIDER_GOOGLE_API_KEY', 'CUSTOS_PROVIDER_GOOGLE_TEST_API_KEY'),
    },
  };
}
const list = (raw: string | undefined) => (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function read<K extends SettingName>(env: Env, name: K): Parsed<K> | undefined {
  const setting: Setting<unknown> = settings[name];
  const raw = env[name] ?? setting.default;
  if (raw === undefined) return undefined;
  return setting.parse(raw.trim(), name) as Parsed<K>;
}

/** A secret comes from NAME or from the file named by NAME_FILE, never both. */
function readSecret<K extends SettingName>(env: Env, name: K): Parsed<K> | undefined {
  const fileVar = `${name}_FILE`;
  const file = env[fileVar];
  if (file && env[name]) throw new ConfigError(name, `set either ${name} or ${fileVar}, not both`);
  if (file) {
    if (!existsSync(file)) throw new ConfigError(fileVar, `file ${file} does not exist`);
    return read({ [name]: readFileSync(file, 'utf8') }, name);
  }
  return read(env, name);
}

export function loadConfig(env: Env = process.env, devSecrets: Env = {}): Config {
  const environment = read(env, 'NODE_ENV')!;
  const generatedSecrets: string[] = [];
  const secret = <K extends 'CUSTOS_MASTER_KEYS' | 'CUSTOS_API_KEY_PEPPER' | 'CUSTOS_SIGNING_KEY'>(name: K) => {
    const value = readSecret(env, name);
    if (value !== undefined) return value;
    if (environment !== 'production' && devSecrets[name]) {
      generatedSecrets.push(name);
      return read(devSecrets, name)!;
    }
    throw new ConfigError(
      name,
      environment === 'production'
        ? 'is required in production (generate one with `custos keys generate`)'
        : 'is missing (run `custos keys generate`, or start with `npm start`, which generates development secrets)',
    );
  };

  // Optional secrets (the backup passphrase): absent is allowed, the feature then fails closed.
  const optionalSecret = <K extends 'CUSTOS_BACKUP_PASSPHRASE' | 'CUSTOS_METRICS_TOKEN' | 'CUSTOS_DATABASE_RUNTIME_PASSWORD'>(name: K) => {
    const value = readSecret(env, name);
    if (value !== undefined || environment === 'production' || !devSecrets[name]) return value;
    generatedSecrets.push(name);
    return read(devSecrets, name);
  };

  const certFile = read(env, 'CUSTOS_TLS_CERT_FILE');
  const keyFile = read(env, 'CUSTOS_TLS_KEY_FILE');
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError(certFile ? 'CUSTOS_TLS_KEY_FILE' : 'CUSTOS_TLS_CERT_FILE', 'TLS needs both a certificate and a key file');
  }
  for (const [name, file] of [['CUSTOS_TLS_CERT_FILE', certFile], ['CUSTOS_TLS_KEY_FILE', keyFile]] as const) {
    if (file && !existsSync(file)) throw new ConfigError(name, `file ${file} does not exist`);
  }

  // The database (issue 16, items 1 and 7). In development, no database name means this
  // checkout's own database. The runtime role: named by CUSTOS_DATABASE_RUNTIME_ROLE, else by
  // DATABASE_URL when it differs from the migration connection (production), else derived from
  // the database name. Outside production, a privileged DATABASE_URL is swapped for the runtime
  // role (password from the development secrets), so laptops and CI run as production does.
  let databaseUrl = read(env, 'DATABASE_URL')!;
  if (environment === 'development' && (!env.DATABASE_URL || !databaseNameOf(databaseUrl))) {
    databaseUrl = withDatabaseNameOf(databaseUrl, checkoutDatabaseName());
  }
  const databaseName = databaseNameOf(databaseUrl);
  const migrationUrl = read(env, 'CUSTOS_MIGRATION_DATABASE_URL') ?? databaseUrl;
  const connectsAs = userOf(databaseUrl);
  const runtimeRole = read(env, 'CUSTOS_DATABASE_RUNTIME_ROLE')
    ?? (connectsAs !== userOf(migrationUrl) ? connectsAs : roleNameFor(databaseName, 'runtime'));
  const runtimePassword = connectsAs === runtimeRole
    ? decodeURIComponent(new URL(databaseUrl).password) || undefined
    : optionalSecret('CUSTOS_DATABASE_RUNTIME_PASSWORD');
  const runtimeUrl = connectsAs === runtimeRole || environment === 'production' ? databaseUrl : withCredentials(databaseUrl, runtimeRole, runtimePassword);
  // The replica holds the primary's roles (physical replication copies them): the same rule applies.
  let readUrl = read(env, 'DATABASE_READ_URL');
  if (readUrl && !databaseNameOf(readUrl)) readUrl = withDatabaseNameOf(readUrl, databaseName);
  if (readUrl && userOf(readUrl) !== runtimeRole && environment !== 'production') readUrl = withCredentials(readUrl, runtimeRole, runtimePassword);
  const storage = {
    driver: read(env, 'CUSTOS_STORAGE_DRIVER')!,
    s3: {
      endpoint: read(env, 'CUSTOS_S3_ENDPOINT'),
      region: read(env, 'CUSTOS_S3_REGION')!,
      forcePathStyle: read(env, 'CUSTOS_S3_FORCE_PATH_STYLE')!,
      bucket: read(env, 'CUSTOS_S3_BUCKET'),
      backupBucket: read(env, 'CUSTOS_BACKUP_S3_BUCKET'),
      keystoreBackupBucket: read(env, 'CUSTOS_KEYSTORE_BACKUP_S3_BUCKET'),
    },
  };
  if (storage.driver === 's3' && !storage.s3.bucket) throw new ConfigError('CUSTOS_S3_BUCKET', 'is required when CUSTOS_STORAGE_DRIVER=s3');
  // Backups are kept apart from the artifacts and from each other (the security page promises it).
  const buckets = [['CUSTOS_S3_BUCKET', storage.driver === 's3' ? storage.s3.bucket : undefined], ['CUSTOS_BACKUP_S3_BUCKET', storage.s3.backupBucket], ['CUSTOS_KEYSTORE_BACKUP_S3_BUCKET', storage.s3.keystoreBackupBucket]] as const;
  for (const [i, [name, bucket]] of buckets.entries()) {
    const clash = buckets.slice(0, i).find(([, other]) => bucket && other === bucket);
    if (clash) throw new ConfigError(name, `must name a different bucket than ${clash[0]}`);
  }

  return {
    env: environment,
    host: read(env, 'HOST')!,
    port: read(env, 'PORT')!,
    publicUrl: read(env, 'PUBLIC_URL'),
    databaseUrl: runtimeUrl,
    databaseReadUrl: readUrl,
    database: { name: databaseName, migrationUrl, runtimeRole, runtimePassword },
    databasePoolMax: read(env, 'DATABASE_POOL_MAX')!,
    devSecretsFile: read(env, 'CUSTOS_DEV_SECRETS_FILE')!,
    redisUrl: read(env, 'REDIS_URL')!,
    redisSentinel: parseSentinels(read(env, 'CUSTOS_REDIS_SENTINELS'), read(env, 'CUSTOS_REDIS_SENTINEL_NAME')!),
    queuePrefix: env.CUSTOS_QUEUE_PREFIX === undefined && environment === 'development' ? databaseName : read(env, 'CUSTOS_QUEUE_PREFIX')!,
    masterKeys: secret('CUSTOS_MASTER_KEYS'),
    apiKeyPepper: secret('CUSTOS_API_KEY_PEPPER'),
    signingKeyPem: secret('CUSTOS_SIGNING_KEY'),
    bcryptCost: read(env, 'CUSTOS_BCRYPT_COST')!,
    session: { ttlHours: read(env, 'CUSTOS_SESSION_TTL_HOURS')!, idleMinutes: read(env, 'CUSTOS_SESSION_IDLE_MINUTES')!, purgeAfterMinutes: read(env, 'CUSTOS_SESSION_PURGE_AFTER_MINUTES')!, cacheTtlMs: read(env, 'CUSTOS_SESSION_CACHE_TTL_MS')! },
    loginLimits: {
      perAccount: read(env, 'CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT')!,
      perIp: read(env, 'CUSTOS_LOGIN_MAX_FAILURES_PER_IP')!,
      windowSeconds: read(env, 'CUSTOS_LOGIN_WINDOW_SECONDS')!,
    },
    registrationLimits: {
      perIp: read(env, 'CUSTOS_REGISTER_MAX_PER_IP')!,
      perEmail: read(env, 'CUSTOS_REGISTER_MAX_PER_EMAIL')!,
      windowSeconds: read(env, 'CUSTOS_REGISTER_WINDOW_SECONDS')!,
    },
    totpIssuer: read(env, 'CUSTOS_TOTP_ISSUER')!,
    bodyLimitBytes: read(env, 'CUSTOS_BODY_LIMIT_BYTES')!,
    uploadLimitBytes: read(env, 'CUSTOS_UPLOAD_LIMIT_BYTES')!,
    extraction: {
      timeoutMs: read(env, 'CUSTOS_EXTRACTION_TIMEOUT_MS')!,
      maxPages: read(env, 'CUSTOS_EXTRACTION_MAX_PAGES')!,
      maxHeapMb: read(env, 'CUSTOS_EXTRACTION_MAX_HEAP_MB')!,
      maxInflatedBytes: read(env, 'CUSTOS_EXTRACTION_MAX_INFLATED_BYTES')!,
      maxZipEntries: read(env, 'CUSTOS_EXTRACTION_MAX_ZIP_ENTRIES')!,
      maxXmlDepth: read(env, 'CUSTOS_EXTRACTION_MAX_XML_DEPTH')!,
      concurrency: read(env, 'CUSTOS_EXTRACTION_CONCURRENCY')!,
      queueLength: read(env, 'CUSTOS_EXTRACTION_QUEUE_LENGTH')!,
    },
    trustProxy: read(env, 'CUSTOS_TRUST_PROXY')!,
    tls: certFile && keyFile
      ? { certFile, keyFile, minVersion: read(env, 'CUSTOS_TLS_MIN_VERSION')!, redirectPort: read(env, 'CUSTOS_HTTP_REDIRECT_PORT')! }
      : undefined,
    hstsMaxAge: read(env, 'CUSTOS_HSTS_MAX_AGE')!,
    validateResponses: environment === 'test' || read(env, 'CUSTOS_VALIDATE_RESPONSES')!,
    metricsToken: optionalSecret('CUSTOS_METRICS_TOKEN'),
    metricsPort: read(env, 'CUSTOS_METRICS_PORT')!,
    logLevel: read(env, 'CUSTOS_LOG_LEVEL')!,
    artifactDir: read(env, 'CUSTOS_ARTIFACT_DIR')!,
    storage,
    backup: {
      passphrase: optionalSecret('CUSTOS_BACKUP_PASSPHRASE'),
      dir: read(env, 'CUSTOS_BACKUP_DIR')!,
      keystoreDir: read(env, 'CUSTOS_KEYSTORE_BACKUP_DIR')!,
      keystoreRetentionDays: read(env, 'CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS')!,
      keep: { daily: read(env, 'CUSTOS_BACKUP_KEEP_DAILY')!, weekly: read(env, 'CUSTOS_BACKUP_KEEP_WEEKLY')!, monthly: read(env, 'CUSTOS_BACKUP_KEEP_MONTHLY')! },
      stalePartialHours: read(env, 'CUSTOS_BACKUP_STALE_PARTIAL_HOURS')!,
      cron: read(env, 'CUSTOS_BACKUP_CRON')!,
    },
    jobLeaseMs: read(env, 'CUSTOS_JOB_LEASE_MS')!,
    shutdownGraceMs: read(env, 'CUSTOS_SHUTDOWN_GRACE_MS')!,
    privacy: { deletionGraceDays: read(env, 'CUSTOS_DELETION_GRACE_DAYS')!, exportTtlDays: read(env, 'CUSTOS_EXPORT_TTL_DAYS')!, deletionBatchRows: read(env, 'CUSTOS_DELETION_BATCH_ROWS')!, deletionPauseMs: read(env, 'CUSTOS_DELETION_PAUSE_MS')! },
    audit: { retentionDays: read(env, 'CUSTOS_AUDIT_RETENTION_DAYS')!, staffDisplay: read(env, 'CUSTOS_AUDIT_STAFF_DISPLAY')! },
    relay: relayConfig(env, environment),
    knowledge: {
      embeddingModel: read(env, 'CUSTOS_KNOWLEDGE_EMBEDDING_MODEL')!,
      chunkChars: read(env, 'CUSTOS_KNOWLEDGE_CHUNK_CHARS')!,
      overlapChars: Math.min(read(env, 'CUSTOS_KNOWLEDGE_CHUNK_OVERLAP_CHARS')!, Math.floor(read(env, 'CUSTOS_KNOWLEDGE_CHUNK_CHARS')! / 2)),
      embeddingBatch: read(env, 'CUSTOS_KNOWLEDGE_EMBEDDING_BATCH')!,
      cacheMb: read(env, 'CUSTOS_KNOWLEDGE_CACHE_MB')!,
      retryDelayMs: read(env, 'CUSTOS_KNOWLEDGE_RETRY_DELAY_MS')!,
    },
    trust: {
      securityTxt: {
        contact: list(read(env, 'CUSTOS_SECURITY_CONTACT')),
        policyUrl: read(env, 'CUSTOS_SECURITY_POLICY_URL'),
        acknowledgmentsUrl: read(env, 'CUSTOS_SECURITY_ACKNOWLEDGMENTS_URL'),
        languages: list(read(env, 'CUSTOS_SECURITY_LANGUAGES')),
        encryptionUrl: read(env, 'CUSTOS_SECURITY_ENCRYPTION_URL'),
        expiresDays: read(env, 'CUSTOS_SECURITY_TXT_EXPIRES_DAYS')!,
      },
      postureCacheSeconds: read(env, 'CUSTOS_TRUST_POSTURE_CACHE_SECONDS')!,
      rateLimitPerMinute: read(env, 'CUSTOS_TRUST_RATE_LIMIT_PER_MINUTE')!,
      timeZone: read(env, 'CUSTOS_TRUST_TIME_ZONE')!,
      subprocessorNoticeDays: read(env, 'CUSTOS_TRUST_SUBPROCESSOR_NOTICE_DAYS')!,
      autoApproveDomains: list(read(env, 'CUSTOS_TRUST_AUTO_APPROVE_DOMAINS')).map((d) => d.toLowerCase()),
      grantHours: read(env, 'CUSTOS_TRUST_GRANT_HOURS')!,
      ndaFile: read(env, 'CUSTOS_TRUST_NDA_FILE'),
    },
    generatedSecrets,
  };
}

function withDatabaseNameOf(databaseUrl: string, name: string): string {
  const parsed = new URL(databaseUrl);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

function parseSentinels(raw: string | undefined, name: string): Config['redisSentinel'] {
  if (!raw) return undefined;
  const sentinels = raw.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const match = /^([^:\s]+):(\d{1,5})$/.exec(entry);
    if (!match || Number(match[2]) > 65535) throw new ConfigError('CUSTOS_REDIS_SENTINELS', `each entry must look like host:port, got "${entry}"`);
    return { host: match[1], port: Number(match[2]) };
  });
  return { sentinels, name };
}

/** Markdown table of every variable. */
export function configReference(): string {
  const rows = Object.entries(settings).map(([name, s]: [string, Setting<unknown>]) =>
    `| \`${name}\` | ${s.default === undefined ? '—' : s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.doc} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/**
 * docs/configuration.md, exactly: `custos config docs > docs/configuration.md` regenerates it, and
 * test/docs/configuration-doc.test.ts fails when the file and this table differ.
 */
export function configurationDocument(): string {
  return [
    '# Configuration',
    '',
    '<!-- Generated by `npm run -s custos -- config docs > docs/configuration.md` from the `settings` table in',
    'src/config.ts. Do not edit by hand: a test fails when this file and the table differ. -->',
    '',
    'Every variable Custos reads, its default and its meaning. The service validates all of them at start;',
    'a bad value stops it with one line naming the variable (`custos: configuration error: PORT: must be an',
    'integer between 0 and 65535, got "eighty"`), and secrets are never echoed. Each secret also accepts a',
    '`_FILE` variant naming a file that holds the value. `NODE_ENV=production` refuses to start without',
    '`CUSTOS_MASTER_KEYS`, `CUSTOS_API_KEY_PEPPER` and `CUSTOS_SIGNING_KEY`; outside production they are',
    'generated once into `.custos/dev-secrets.env` (mode 0600, git-ignored). A full set of secrets for a new',
    'deployment: `npm run -s custos -- keys generate > .env`.',
    '',
    configReference(),
    '',
  ].join('\n');
}
