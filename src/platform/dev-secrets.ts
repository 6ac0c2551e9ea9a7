// Development convenience: when no secrets are configured outside production, generate them once
// into a git-ignored file with mode 0600, so a newcomer's `npm start` works and restarts keep
// reading the same encrypted data. Production never reaches this (config refuses to start).
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function generateSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    CUSTOS_MASTER_KEYS: `1:${randomBytes(32).toString('base64')}`,
    CUSTOS_API_KEY_PEPPER: randomBytes(32).toString('base64'),
    CUSTOS_SIGNING_KEY: Buffer.from(pem).toString('base64'),
    CUSTOS_BACKUP_PASSPHRASE: randomBytes(24).toString('base64url'),
    // So a developer's Prometheus (or curl) can scrape /metrics; read it from the secrets file.
    CUSTOS_METRICS_TOKEN: randomBytes(32).toString('base64url'),
    // The runtime role's password (`custos migrate` sets it; the processes connect with it).
    CUSTOS_DATABASE_RUNTIME_PASSWORD: randomBytes(24).toString('base64url'),
  };
}

export function parseEnvFile(content: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of content.split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) values[match[1]] = match[2].trim();
  }
  return values;
}

// Secrets added after a developer's file was written, which are safe to add to it: nothing was
// encrypted or signed with them. (Never a master key: a fresh one would hide lost data.)
const addableLater = ['CUSTOS_METRICS_TOKEN', 'CUSTOS_DATABASE_RUNTIME_PASSWORD'];

/**
 * Reads the development secrets file, creating it (mode 0600) when absent. A file from an older
 * version gets the addable secrets it lacks appended; existing ones are never replaced (they are
 * what the database's data was encrypted with).
 */
export function loadOrCreateDevSecrets(file: string): { secrets: Record<string, string>; created: boolean } {
  if (existsSync(file)) {
    const content = readFileSync(file, 'utf8');
    const secrets = parseEnvFile(content);
    const fresh = generateSecrets();
    const missing = addableLater.filter((name) => !secrets[name]);
    if (missing.length) {
      appendFileSync(file, `${content.endsWith('\n') || !content ? '' : '\n'}${missing.map((name) => `${name}=${fresh[name]}`).join('\n')}\n`);
      for (const name of missing) secrets[name] = fresh[name];
    }
    return { secrets, created: false };
  }
  const secrets = generateSecrets();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const body = Object.entries(secrets).map(([k, v]) => `${k}=${v}`).join('\n');
  writeFileSync(file, `# Generated for development by custos. Never use in production.\n${body}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secrets, created: true };
}
