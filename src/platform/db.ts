import knexFactory, { type Knex } from 'knex';
import { readdirSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

// BIGINT (int8) counts and sums arrive as strings by default; our values fit in a double.
pg.types.setTypeParser(20, (value) => Number(value));

export type { Knex };

export function createDb(databaseUrl: string, poolMax = 10, applicationName = 'custos'): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: applicationName },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 5000,
  });
}

/**
 * The pool that listing queries read through: a PostgreSQL streaming replica when
 * DATABASE_READ_URL is set (application_name custos-read), else the primary's own pool. A
 * replica may lag the primary by seconds and refuses every write, so repos take it as a second,
 * named dependency and use it only for lists a user accepts a little late (their chats, files,
 * relay usage, the public trust-centre lists) — never for the audit trail, session or API-key
 * checks, exports, or a read that follows the caller's own write.
 */
export type ListingReads = Knex;

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
