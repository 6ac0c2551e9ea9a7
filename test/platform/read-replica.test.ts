// DATABASE_READ_URL against a real PostgreSQL streaming replica (pg_basebackup hot standby of a
// primary started for this file). With WAL replay paused the replica lags, which makes visible
// which pool answered: the listing routes (a user's chats, the public sub-processor list) show the
// replica's older state, while writes, session checks, the audit trail and reads that follow the
// caller's own write see the primary. Both pools connect as the runtime role, and the read pool
// cannot write at all.
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createDb, withDatabaseName, type Knex } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { roleNameFor } from '../../src/platform/database-names.js';
import { isolatedApp } from '../support/app.js';
import { createStaff, strongPassword, uniqueEmail } from '../support/accounts.js';
import { startPgReplicaPair, type PgReplicaPair } from '../support/pg-replica.js';
import { requireTool } from '../support/tools.js';
import { tempDir } from '../support/temp.js';
import { reasonHeaders } from '../audit/helpers.js';

const database = 'custos_replica';
const runtimeRole = roleNameFor(database, 'runtime');

describe('platform: DATABASE_READ_URL on a streaming replica', function () {
  this.timeout(120_000);
  let pair: PgReplicaPair;
  let app: ReturnType<typeof isolatedApp>;
  let replicaAdmin: Knex;

  before(async function () {
    this.timeout(180_000);
    requireTool(this, 'initdb', 'postgres', 'pg_basebackup');
    pair = await startPgReplicaPair();
    const admin = createDb(pair.primaryUrl, 1);
    await admin.raw(`CREATE DATABASE ${database}`);
    await admin.destroy();
    const env = {
      DATABASE_URL: withDatabaseName(pair.primaryUrl, database),
      // No database name: the primary's. A superuser URL: swapped for the runtime role outside production.
      DATABASE_READ_URL: pair.replicaUrl.replace(/\/postgres$/, ''),
      CUSTOS_MIGRATION_DATABASE_URL: '',
      CUSTOS_DATABASE_RUNTIME_ROLE: '',
      CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_replica`,
      CUSTOS_ARTIFACT_DIR: tempDir('replica-artifacts'),
    };
    await migrateDatabase(loadConfig({ ...process.env, ...env }));
    await pair.caughtUp();
    app = isolatedApp(env);
    replicaAdmin = createDb(withDatabaseName(pair.replicaUrl, database), 1);
  });

  after(async () => {
    await pair?.resumeReplay().catch(() => {});
    await app?.close();
    await replicaAdmin?.destroy();
    await pair?.close();
  });

  it('connects both pools as the runtime role, and the read pool to the replica (which refuses writes)', async () => {
    const { config, db, readDb } = app.container.platform;
    expect(config.databaseReadUrl).to.match(new RegExp(`^postgres://${runtimeRole}(:[^@]*)?@127\\.0\\.0\\.1:\\d+/${database}$`));
    expect(readDb).to.not.equal(db);
    const [primarySide, replicaSide] = await Promise.all([db, readDb].map(async (pool) =>
      (await pool.raw('SELECT current_user AS role, pg_is_in_recovery() AS standby')).rows[0]));
    expect(primarySide).to.deep.equal({ role: runtimeRole, standby: false });
    expect(replicaSide).to.deep.equal({ role: runtimeRole, standby: true });
    const write = await readDb('subprocessors').insert({ name: 'x', purpose: 'x', location: 'x', data_categories: [], effective_at: new Date() }).then(() => null, (e: Error) => e);
    expect(write?.message).to.match(/read-only transaction/);
  });

  it('serves chat and sub-processor lists from the lagging replica; writes, sessions, the audit trail and read-after-write from the primary', async () => {
    const api = app.api;
    const email = uniqueEmail('replica');
    const password = strongPassword();
    const registered = await api().post('/api/v1/auth/register').send({ email, password }).expect(201);
    const login = async () => ({ Authorization: `Bearer ${(await api().post('/api/v1/auth/login').send({ email, password }).expect(200)).body.token}` });
    await api().post('/api/v1/chats').set(await login()).send({ title: 'Before the lag' }).expect(201);
    const [dpo, admin] = [await createStaff('dpo', app), await createStaff('admin', app)];
    await pair.caughtUp();

    await pair.pauseReplay();
    // A session created now exists only on the primary: it authenticates, so session checks read the primary.
    const auth = await login();
    await api().get('/api/v1/me').set(auth).expect(200);
    // Writes go to the primary (the replica would refuse them), and a read of what was just written sees it.
    const during = await api().post('/api/v1/chats').set(auth).send({ title: 'During the lag' }).expect(201);
    const read = await api().get(`/api/v1/chats/${during.body.id}`).set(auth).expect(200);
    expect(read.body.title).to.equal('During the lag');
    const sub = await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: `Lagging Ltd ${during.body.id.slice(0, 8)}`, purpose: 'Hosting', location: 'Germany (EU)', dataCategories: ['account data'], effectiveAt: new Date(Date.now() - 86_400_000).toISOString() })
      .expect(201);

    // The listings answer from the replica, which has not replayed those writes yet.
    const lagging = await api().get('/api/v1/chats').set(auth).expect(200);
    expect(lagging.body.items.map((c: { title: string }) => c.title)).to.deep.equal(['Before the lag']);
    const subs = await api().get('/api/v1/trust/subprocessors').expect(200);
    expect(subs.body.items.map((s: { id: string }) => s.id)).to.not.include(sub.body.id);
    const { rows: readers } = await replicaAdmin.raw(`SELECT usename FROM pg_stat_activity WHERE application_name = 'custos-read' AND datname = ?`, [database]);
    expect(readers.map((r: { usename: string }) => r.usename)).to.include(runtimeRole);

    // The audit trail is never read from the replica: the staff access recorded just now is in the user's access log.
    await api().get(`/api/v1/admin/users/${registered.body.id}/chats`).set(dpo.auth).set(reasonHeaders()).expect(200);
    const log = await api().get('/api/v1/me/access-log').set(auth).expect(200);
    expect(log.body.items.length, JSON.stringify(log.body)).to.be.greaterThan(0);

    await pair.resumeReplay();
    await pair.caughtUp();
    const caughtUp = await api().get('/api/v1/chats').set(auth).expect(200);
    expect(caughtUp.body.items.map((c: { title: string }) => c.title)).to.deep.equal(['During the lag', 'Before the lag']);
    const current = await api().get('/api/v1/trust/subprocessors').expect(200);
    expect(current.body.items.map((s: { id: string }) => s.id)).to.include(sub.body.id);
  });

  // Last: it stops the standby.
  it('answers a listing route 503 with Retry-After while the replica is down; everything else keeps working', async () => {
    const api = app.api;
    const email = uniqueEmail('replica-down');
    const password = strongPassword();
    await api().post('/api/v1/auth/register').send({ email, password }).expect(201);
    const auth = { Authorization: `Bearer ${(await api().post('/api/v1/auth/login').send({ email, password }).expect(200)).body.token}` };
    await pair.stopReplica();
    const list = await api().get('/api/v1/chats').set(auth);
    expect(list.status, list.text).to.equal(503);
    expect(list.headers['retry-after']).to.match(/^\d+$/);
    const created = await api().post('/api/v1/chats').set(auth).send({ title: 'Written while the replica is down' }).expect(201);
    await api().get(`/api/v1/chats/${created.body.id}`).set(auth).expect(200);
    await api().get('/readyz').expect(200);
  });
});

describe('platform: DATABASE_READ_URL configuration', () => {
  const base = { ...process.env, CUSTOS_MIGRATION_DATABASE_URL: undefined, CUSTOS_DATABASE_RUNTIME_ROLE: undefined };

  it('is off by default: the listing pool is the primary\'s', () => {
    expect(loadConfig({ ...base, DATABASE_READ_URL: undefined }).databaseReadUrl).to.equal(undefined);
  });

  it('connects as the runtime role (swapped outside production, as given in production) to the primary\'s database by default', () => {
    const dev = loadConfig({ ...base, DATABASE_URL: 'postgres://postgres@db.example/shop', DATABASE_READ_URL: 'postgres://postgres@replica.example:5433', CUSTOS_DATABASE_RUNTIME_PASSWORD: 'pw-1' });
    expect(dev.databaseReadUrl).to.equal('postgres://shop_runtime:pw-1@replica.example:5433/shop');
    const prod = loadConfig({ ...base, NODE_ENV: 'production', DATABASE_URL: 'postgres://app:pw@db.example/shop', CUSTOS_MIGRATION_DATABASE_URL: 'postgres://admin:pw@db.example/shop', DATABASE_READ_URL: 'postgres://app:pw@replica.example/shop' });
    expect(prod.databaseReadUrl).to.equal('postgres://app:pw@replica.example/shop');
    expect(() => loadConfig({ ...base, DATABASE_READ_URL: 'mysql://replica.example/shop' })).to.throw(/DATABASE_READ_URL: must use postgres: or postgresql:/);
  });
});
