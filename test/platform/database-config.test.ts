// Which database and role each process connects as (issue 16, items 1 and 7), and that two
// `custos migrate` running at once, on two databases or on one, both succeed.
import { expect } from 'chai';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { checkoutDatabaseName, checkoutRoot, roleNameFor } from '../../src/platform/database-names.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { runCli } from '../support/cli.js';

describe('platform: database and role configuration', () => {
  const base = () => ({ ...process.env, CUSTOS_MIGRATION_DATABASE_URL: undefined, CUSTOS_DATABASE_RUNTIME_ROLE: undefined });

  it('outside production, swaps a privileged DATABASE_URL for the per-database runtime role', () => {
    const config = loadConfig({ ...base(), DATABASE_URL: 'postgres://postgres:secret@db.example:5433/shop', CUSTOS_DATABASE_RUNTIME_PASSWORD: 'pw-1' });
    expect(config.databaseUrl).to.equal('postgres://shop_runtime:pw-1@db.example:5433/shop');
    expect(config.database).to.deep.include({ name: 'shop', migrationUrl: 'postgres://postgres:secret@db.example:5433/shop', runtimeRole: 'shop_runtime', runtimePassword: 'pw-1' });
  });

  it('in production, connects with DATABASE_URL as given, and migrate creates the role it names', () => {
    const env = { ...base(), NODE_ENV: 'production', DATABASE_URL: 'postgres://app:pw-2@db.example/shop', CUSTOS_MIGRATION_DATABASE_URL: 'postgres://admin:pw-3@db.example/shop' };
    const config = loadConfig(env);
    expect(config.databaseUrl).to.equal(env.DATABASE_URL);
    expect(config.database).to.deep.include({ migrationUrl: env.CUSTOS_MIGRATION_DATABASE_URL, runtimeRole: 'app', runtimePassword: 'pw-2' });
    // A superuser URL in production is kept (serve and worker then refuse it, see trail-roles.test.ts).
    expect(loadConfig({ ...env, DATABASE_URL: 'postgres://postgres@db.example/shop', CUSTOS_MIGRATION_DATABASE_URL: undefined }).databaseUrl)
      .to.equal('postgres://postgres@db.example/shop');
  });

  it('in development, uses this checkout\'s own database unless DATABASE_URL names one', () => {
    const dev = { ...base(), NODE_ENV: 'development' };
    expect(loadConfig({ ...dev, DATABASE_URL: undefined }).database.name).to.equal(checkoutDatabaseName());
    expect(loadConfig({ ...dev, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432' }).database.name).to.equal(checkoutDatabaseName());
    expect(loadConfig({ ...dev, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/mine' }).database.name).to.equal('mine');
    expect(loadConfig({ ...dev, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/mine', CUSTOS_QUEUE_PREFIX: undefined }).queuePrefix).to.equal('mine');
  });

  it('derives the same checkout database name in config.ts and scripts/services.mjs, and distinct role names within 63 bytes', async () => {
    const services = await import(pathToFileURL(resolve(checkoutRoot(), 'scripts', 'services.mjs')).href);
    for (const root of [checkoutRoot(), '/home/ada/Code/Custos (copy)', '/tmp/x']) {
      expect(services.checkoutDatabaseName(root), root).to.equal(checkoutDatabaseName(root));
    }
    expect(checkoutDatabaseName('/home/ada/custos')).to.match(/^custos_custos_[0-9a-f]{8}$/);
    const long = 'a'.repeat(60);
    for (const suffix of ['runtime', 'audit_owner'] as const) {
      expect(roleNameFor(long, suffix).length).to.be.at.most(63);
      expect(roleNameFor(long, suffix)).to.not.equal(roleNameFor(`${long}b`, suffix));
      expect(roleNameFor('Shop-DB', suffix)).to.match(new RegExp(`^shop_db_[0-9a-f]{8}_${suffix}$`));
    }
  });
});

describe('platform: custos migrate running concurrently', function () {
  this.timeout(240_000);
  const prefix = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_concurrent`;
  const names = [`${prefix}_a`, `${prefix}_b`];
  const admin = () => createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
  const migrate = (name: string) => runCli(['migrate'], { env: { DATABASE_URL: withDatabaseName(process.env.DATABASE_URL!, name) } });

  before(async () => {
    const db = admin();
    try {
      for (const name of names) {
        await db.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await db.raw(`CREATE DATABASE "${name}"`);
        await db.raw(`DROP ROLE IF EXISTS "${roleNameFor(name, 'runtime')}", "${roleNameFor(name, 'audit_owner')}"`);
      }
    } finally {
      await db.destroy();
    }
  });

  after(async () => {
    const db = admin();
    try {
      for (const name of names) {
        await db.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await db.raw(`DROP ROLE IF EXISTS "${roleNameFor(name, 'runtime')}", "${roleNameFor(name, 'audit_owner')}"`);
      }
    } finally {
      await db.destroy();
    }
  });

  it('creates each database\'s own roles when two databases migrate at once, and copes with two runs on one database', async () => {
    const [a, b, again] = await Promise.all([migrate(names[0]), migrate(names[1]), migrate(names[0])]);
    for (const run of [a, b, again]) expect(run.code, run.stderr).to.equal(0);
    const db = admin();
    try {
      const { rows } = await db.raw('SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname LIKE ? ORDER BY rolname', [`${prefix}%`]);
      expect(rows).to.deep.equal([
        { rolname: roleNameFor(names[0], 'audit_owner'), rolsuper: false, rolcanlogin: false },
        { rolname: roleNameFor(names[0], 'runtime'), rolsuper: false, rolcanlogin: true },
        { rolname: roleNameFor(names[1], 'audit_owner'), rolsuper: false, rolcanlogin: false },
        { rolname: roleNameFor(names[1], 'runtime'), rolsuper: false, rolcanlogin: true },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
