// Names of databases and roles, derived so that several checkouts and databases can share one
// PostgreSQL cluster without fighting over a database, a role's password or its grants.
// Pure functions: config.ts and scripts/services.mjs (which repeats checkoutDatabaseName; a test
// checks the two agree) use them before anything connects.
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');

/** The checkout this code runs from: the nearest directory above this file holding package.json. */
export function checkoutRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return from;
    dir = parent;
  }
  return realpathSync(dir);
}

/**
 * The development database of a checkout: `custos_<directory>_<hash of its path>`, so a second
 * clone (with its own development secrets) never opens the first one's encrypted data.
 */
export function checkoutDatabaseName(root = checkoutRoot()): string {
  return `custos_${slug(basename(root)).slice(0, 24) || 'checkout'}_${shortHash(root)}`;
}

/**
 * A role name for `database`: `<database>_<suffix>` when that is a plain identifier of at most
 * 63 bytes (PostgreSQL's limit), else a shortened form with a hash of the full name, so two
 * databases never share a derived role.
 */
export function roleNameFor(database: string, suffix: 'runtime' | 'audit_owner'): string {
  const plain = `${database}_${suffix}`;
  if (/^[a-z_][a-z0-9_]*$/.test(database) && plain.length <= 63) return plain;
  return `${slug(database).slice(0, 63 - suffix.length - 10) || 'db'}_${shortHash(database)}_${suffix}`;
}

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function userOf(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'postgres';
}

/** `url` connecting as `user` (with `password`, if any) instead. */
export function withCredentials(url: string, user: string, password: string | undefined): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = password ? encodeURIComponent(password) : '';
  return parsed.toString();
}
