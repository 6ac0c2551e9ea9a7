import knexFactory, { type Knex } from 'knex';
import { readdirSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

// BIGINT (int8) counts and sums arrive as strings by default; our values fit in a double.
pg.types.setTypeParser(20, (value) => Number(value));

export type { Knex };

export function createDb(databaseUrl: string, poolMax = 10): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'custos' },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 5000,
  });
}

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

/**
 * Names migrations without their file extension, so running them from .ts (tests, tsx) and from
 * compiled .js (production image) against one database records the same names.
 */
class ExtensionlessMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return readdirSync(migrationsDir)
      .filter((f) => /^\d{14}_.+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
      .sort();
  }
  getMigrationName(file: string): string {
    return parse(file).name;
  }
  async getMigration(file: string): Promise<Knex.Migration> {
    return import(pathToFileURL(join(migrationsDir, file)).href);
  }
}

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = await db.migrate.latest({ migrationSource: new ExtensionlessMigrationSource() });
  return applied as string[];
}

export async function migrateRollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback({ migrationSource: new ExtensionlessMigrationSource() }, true);
}

/** Runs `fn` with a database whose name is `name` on the server of `databaseUrl`. */
export function withDatabaseName(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
