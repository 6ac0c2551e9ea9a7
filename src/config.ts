// Environment -> typed, validated configuration. Fails fast and names the bad variable.
// Every setting is declared once in `settings` with its default and a doc line; the README's
// configuration table is printed from it (`custos config docs`), so the two cannot drift.
import { existsSync, readFileSync } from 'node:fs';

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
const optionalText = (raw: string) => (raw === '' ? undefined : raw);

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
  DATABASE_URL: { doc: 'PostgreSQL 15+ connection URL (the source of truth).', default: 'postgres://postgres@127.0.0.1:5432/custos', parse: url('postgres:', 'postgresql:') },
  DATABASE_POOL_MAX: { doc: 'Maximum PostgreSQL connections per process.', default: '10', parse: integer(1, 200) },
  REDIS_URL: { doc: 'Redis 7 URL (BullMQ queues and rate-limit counters only).', default: 'redis://127.0.0.1:6379', parse: url('redis:', 'rediss:') },
  CUSTOS_REDIS_SENTINELS: { doc: 'Redis Sentinel addresses "host:port,host:port,…"; when set, Custos asks them for the primary of CUSTOS_REDIS_SENTINEL_NAME and follows failovers (REDIS_URL then only supplies password and database).', default: '', parse: optionalText },
  CUSTOS_REDIS_SENTINEL_NAME: { doc: 'Name of the monitored primary (the `sentinel monitor <name>` of the sentinels).', default: 'mymaster', parse: text },
  CUSTOS_QUEUE_PREFIX: { doc: 'Prefix of every BullMQ and rate-limit key in Redis.', default: 'custos', parse: text },
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
  CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT: { doc: 'Failed logins per account within the window before 429.', default: '5', parse: integer(1) },
  CUSTOS_LOGIN_MAX_FAILURES_PER_IP: { doc: 'Failed logins per client IP within the window before 429.', default: '20', parse: integer(1) },
  CUSTOS_LOGIN_WINDOW_SECONDS: { doc: 'Window of the failed-login counters (and the lockout length).', default: '900', parse: integer(1) },
  CUSTOS_REGISTER_MAX_PER_IP: { doc: 'Registration attempts per client IP within the window before 429 (successful ones count too).', default: '10', parse: integer(1) },
  CUSTOS_REGISTER_MAX_PER_EMAIL: { doc: 'Registration attempts per email address within the window before 429 (bounds probing whether one address has an account).', default: '3', parse: integer(1) },
  CUSTOS_REGISTER_WINDOW_SECONDS: { doc: 'Window of the registration counters.', default: '3600', parse: integer(1) },
  CUSTOS_TOTP_ISSUER: { doc: 'Issuer shown in authenticator apps.', default: 'Custos', parse: text },
  CUSTOS_BODY_LIMIT_BYTES: { doc: 'Largest JSON request body accepted (413 beyond).', default: '1048576', parse: integer(1024) },
  CUSTOS_UPLOAD_LIMIT_BYTES: { doc: 'Largest uploaded file accepted (413 beyond).', default: '26214400', parse: integer(1024) },
  CUSTOS_TRUST_PROXY: { doc: 'Express "trust proxy" setting: hops or subnets whose X-Forwarded-For is believed.', default: 'loopback', parse: text },
  CUSTOS_TLS_CERT_FILE: { doc: 'PEM certificate; with CUSTOS_TLS_KEY_FILE, Custos terminates TLS itself.', parse: optionalText },
  CUSTOS_TLS_KEY_FILE: { doc: 'PEM private key for CUSTOS_TLS_CERT_FILE.', parse: optionalText },
  CUSTOS_TLS_MIN_VERSION: { doc: 'Lowest TLS version accepted: TLSv1.2 or TLSv1.3.', default: 'TLSv1.2', parse: oneOf('TLSv1.2', 'TLSv1.3') },
  CUSTOS_HTTP_REDIRECT_PORT: { doc: 'With TLS on, a plain-HTTP listener on this port redirects to HTTPS (0 = none).', default: '0', parse: integer(0, 65535) },
  CUSTOS_HSTS_MAX_AGE: { doc: 'Strict-Transport-Security max-age in seconds.', default: '31536000', parse: integer(0) },
  CUSTOS_VALIDATE_RESPONSES: { doc: 'Validate every response against the OpenAPI spec (on in tests; useful in development).', default: 'false', parse: boolean },
  CUSTOS_METRICS_TOKEN: { doc: 'If set, GET /metrics requires "Authorization: Bearer <token>".', secret: true, parse: optionalText },
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
  CUSTOS_BACKUP_CRON: { doc: 'node-cron schedule of the nightly backup, verify and prune (server time zone).', default: '30 2 * * *', parse: text },
  CUSTOS_SHUTDOWN_GRACE_MS: { doc: 'How long SIGTERM waits for in-flight requests and jobs.', default: '10000', parse: integer(0) },
  CUSTOS_DELETION_GRACE_DAYS: { doc: 'Days between an account deletion request and the erasure (0 = at once); the user can cancel meanwhile.', default: '7', parse: integer(0, 30) },
  CUSTOS_EXPORT_TTL_DAYS: { doc: 'Days a finished data export can be downloaded before it is deleted.', default: '7', parse: integer(1, 30) },
  CUSTOS_DELETION_BATCH_ROWS: { doc: 'Rows an account deletion removes per transaction (each batch records its count).', default: '1000', parse: integer(100, 100000) },
  CUSTOS_DELETION_PAUSE_MS: { doc: 'Pause between deletion batches, leaving the database to other users\' queries.', default: '20', parse: integer(0, 10000) },
  CUSTOS_AUDIT_RETENTION_DAYS: { doc: 'Audit-trail entries older than this are purged, only in whole signed-checkpoint ranges (the purge is itself recorded).', default: '400', parse: integer(1, 36500) },
  CUSTOS_AUDIT_STAFF_DISPLAY: { doc: 'How a user\'s access log names staff: pseudonym (stable staff-… id) or email.', default: 'pseudonym', parse: oneOf('pseudonym', 'email') },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof settings;
export type SettingName = keyof Settings;
type Parsed<K extends SettingName> = Settings[K] extends Setting<infer T> ? T : never;

export interface Config {
  env: Environment;
  host: string;
  port: number;
  publicUrl?: string;
  databaseUrl: string;
  databasePoolMax: number;
  redisUrl: string;
  /** Redis Sentinel: the sentinels and the name of the primary they monitor. */
  redisSentinel?: { sentinels: Array<{ host: string; port: number }>; name: string };
  queuePrefix: string;
  masterKeys: Map<number, Buffer>;
  apiKeyPepper: Buffer;
  signingKeyPem: string;
  bcryptCost: number;
  session: { ttlHours: number; idleMinutes: number };
  loginLimits: { perAccount: number; perIp: number; windowSeconds: number };
  registrationLimits: { perIp: number; perEmail: number; windowSeconds: number };
  totpIssuer: string;
  bodyLimitBytes: number;
  uploadLimitBytes: number;
  trustProxy: string;
  tls?: { certFile: string; keyFile: string; minVersion: 'TLSv1.2' | 'TLSv1.3'; redirectPort: number };
  hstsMaxAge: number;
  validateResponses: boolean;
  metricsToken?: string;
  logLevel: string;
  artifactDir: string;
  storage: { driver: 'local' | 's3'; s3: { endpoint?: string; region: string; forcePathStyle: boolean; bucket?: string; backupBucket?: string; keystoreBackupBucket?: string } };
  backup: { passphrase?: string; dir: string; keystoreDir: string; keystoreRetentionDays: number; keep: { daily: number; weekly: number; monthly: number }; cron: string };
  shutdownGraceMs: number;
  privacy: { deletionGraceDays: number; exportTtlDays: number; deletionBatchRows: number; deletionPauseMs: number };
  audit: { retentionDays: number; staffDisplay: 'pseudonym' | 'email' };
  /** Names of secrets that were generated for development, so the start-up can say so. */
  generatedSecrets: string[];
}

type Env = Record<string, string | undefined>;

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
  const optionalSecret = <K extends 'CUSTOS_BACKUP_PASSPHRASE'>(name: K) => {
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
    databaseUrl: read(env, 'DATABASE_URL')!,
    databasePoolMax: read(env, 'DATABASE_POOL_MAX')!,
    redisUrl: read(env, 'REDIS_URL')!,
    redisSentinel: parseSentinels(read(env, 'CUSTOS_REDIS_SENTINELS'), read(env, 'CUSTOS_REDIS_SENTINEL_NAME')!),
    queuePrefix: read(env, 'CUSTOS_QUEUE_PREFIX')!,
    masterKeys: secret('CUSTOS_MASTER_KEYS'),
    apiKeyPepper: secret('CUSTOS_API_KEY_PEPPER'),
    signingKeyPem: secret('CUSTOS_SIGNING_KEY'),
    bcryptCost: read(env, 'CUSTOS_BCRYPT_COST')!,
    session: { ttlHours: read(env, 'CUSTOS_SESSION_TTL_HOURS')!, idleMinutes: read(env, 'CUSTOS_SESSION_IDLE_MINUTES')! },
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
    trustProxy: read(env, 'CUSTOS_TRUST_PROXY')!,
    tls: certFile && keyFile
      ? { certFile, keyFile, minVersion: read(env, 'CUSTOS_TLS_MIN_VERSION')!, redirectPort: read(env, 'CUSTOS_HTTP_REDIRECT_PORT')! }
      : undefined,
    hstsMaxAge: read(env, 'CUSTOS_HSTS_MAX_AGE')!,
    validateResponses: environment === 'test' || read(env, 'CUSTOS_VALIDATE_RESPONSES')!,
    metricsToken: readSecret(env, 'CUSTOS_METRICS_TOKEN'),
    logLevel: read(env, 'CUSTOS_LOG_LEVEL')!,
    artifactDir: read(env, 'CUSTOS_ARTIFACT_DIR')!,
    storage,
    backup: {
      passphrase: optionalSecret('CUSTOS_BACKUP_PASSPHRASE'),
      dir: read(env, 'CUSTOS_BACKUP_DIR')!,
      keystoreDir: read(env, 'CUSTOS_KEYSTORE_BACKUP_DIR')!,
      keystoreRetentionDays: read(env, 'CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS')!,
      keep: { daily: read(env, 'CUSTOS_BACKUP_KEEP_DAILY')!, weekly: read(env, 'CUSTOS_BACKUP_KEEP_WEEKLY')!, monthly: read(env, 'CUSTOS_BACKUP_KEEP_MONTHLY')! },
      cron: read(env, 'CUSTOS_BACKUP_CRON')!,
    },
    shutdownGraceMs: read(env, 'CUSTOS_SHUTDOWN_GRACE_MS')!,
    privacy: { deletionGraceDays: read(env, 'CUSTOS_DELETION_GRACE_DAYS')!, exportTtlDays: read(env, 'CUSTOS_EXPORT_TTL_DAYS')!, deletionBatchRows: read(env, 'CUSTOS_DELETION_BATCH_ROWS')!, deletionPauseMs: read(env, 'CUSTOS_DELETION_PAUSE_MS')! },
    audit: { retentionDays: read(env, 'CUSTOS_AUDIT_RETENTION_DAYS')!, staffDisplay: read(env, 'CUSTOS_AUDIT_STAFF_DISPLAY')! },
    generatedSecrets,
  };
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

/** Markdown table of every variable, for the README. */
export function configReference(): string {
  const rows = Object.entries(settings).map(([name, s]: [string, Setting<unknown>]) =>
    `| \`${name}\` | ${s.default === undefined ? '—' : s.default === '' ? '(empty)' : `\`${s.default}\``} | ${s.doc} |`);
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
