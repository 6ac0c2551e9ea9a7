// A benchmark server's configuration on a fresh database of its own: dropped and created again,
// migrated the way `custos migrate` does (owner connection; it creates the runtime role the
// container connects as), with the settings every bench server shares. `overrides` win.
import { loadConfig, type Config } from '../../src/config.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { generateSecrets } from '../../src/platform/dev-secrets.js';

const serverUrl = () => process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';

async function onServer(...statements: string[]): Promise<void> {
  const admin = createDb(withDatabaseName(serverUrl(), 'postgres'), 1);
  try {
    for (const sql of statements) await admin.raw(sql);
  } finally {
    await admin.destroy();
  }
}

export const dropBenchDatabase = (database: string) => onServer(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);

export async function freshBenchConfig(database: string, overrides: Record<string, string> = {}): Promise<Config> {
  await onServer(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`, `CREATE DATABASE "${database}"`);
  const config = loadConfig({
    ...process.env,
    ...generateSecrets(),
    NODE_ENV: 'development',
    DATABASE_URL: withDatabaseName(serverUrl(), database),
    CUSTOS_QUEUE_PREFIX: `custos_bench_${database}`,
    CUSTOS_LOG_LEVEL: 'silent',
    CUSTOS_ARTIFACT_DIR: `.local/bench-artifacts/${database}`,
    CUSTOS_VALIDATE_RESPONSES: 'false',
    ...overrides,
  });
  await migrateDatabase(config);
  return config;
}
