// The production topology as a whole: two `custos serve`, two `custos worker` and two
// `custos scheduler` processes (the real CLI) on one PostgreSQL database, one Redis prefix and S3
// storage of their own. Work requested on either API runs exactly once and reads through the
// other; a worker SIGKILLed mid-export loses and duplicates nothing; a revoked session, and a
// revoked relay API key, are refused by the other replica at once; two schedulers never run one
// scheduled job twice.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { isolatedApp } from '../support/app.js';
import { strongPassword, uniqueEmail } from '../support/accounts.js';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from '../support/s3.js';
import { decryptWithPassphrase, waitFor } from '../privacy/support.js';
import { startRole, stopRole, whenUp, type Role } from './support.js';

const database = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_topology`;
const databaseUrl = withDatabaseName(process.env.DATABASE_URL!, database);
const binary = (req: ReturnType<ReturnType<Role['api']>['get']>) => req.buffer(true)
  .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });

describe('topology: two APIs, two workers, two schedulers on one PostgreSQL, Redis and S3', function () {
  this.timeout(180_000);
  const startedAt = Date.now();
  let s3: TestS3;
  let direct: ReturnType<typeof isolatedApp>;
  let raw: S3Client;
  const roles: Role[] = [];
  let apiA: Role, apiB: Role, workers: Role[];
  const savedEnv: Record<string, string | undefined> = {};

  const requestRow = (id: string) => direct.container.platform.db('privacy_requests').where({ id }).first();
  async function user(on: Role) {
    const email = uniqueEmail('topology');
    const password = strongPassword();
    const registered = await on.api().post('/api/v1/auth/register').send({ email, password });
    expect(registered.status, JSON.stringify(registered.body)).to.equal(201);
    const login = async () => {
      const res = await on.api().post('/api/v1/auth/login').send({ email, password });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return { Authorization: `Bearer ${res.body.token}` };
    };
    return { id: registered.body.id as string, password, auth: await login(), login };
  }

  before(async function () {
    this.timeout(240_000);
    const admin = createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
    await admin.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE "${database}"`);
    await admin.destroy();
    // `custos migrate`'s own step: the migrations, then the runtime role the processes connect as.
    await migrateDatabase(loadConfig({ ...process.env, DATABASE_URL: databaseUrl }));

    s3 = await startS3(['topology-artifacts', 'topology-backups', 'topology-keystore']);
    const env: Record<string, string> = {
      ...s3.env({ artifacts: 'topology-artifacts', backups: 'topology-backups', keystore: 'topology-keystore' }),
      DATABASE_URL: databaseUrl,
      CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_topology`,
      CUSTOS_DELETION_GRACE_DAYS: '0',
      // the nightly backup fires every 5 s in both schedulers: it must still run once
      CUSTOS_BACKUP_CRON: '*/5 * * * * *',
    };
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) {
      savedEnv[k] = process.env[k];
      process.env[k] = env[k];
    }
    direct = isolatedApp(env); // for looking into PostgreSQL, Redis and the bucket, and seeding
    raw = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    roles.push(
      apiA = await startRole('serve', 'api-a', env), apiB = await startRole('serve', 'api-b', env),
      await startRole('worker', 'worker-1', env), await startRole('worker', 'worker-2', env),
      await startRole('scheduler', 'scheduler-1', env), await startRole('scheduler', 'scheduler-2', env),
    );
    workers = roles.filter((r) => r.name.startsWith('worker'));
    await Promise.all(roles.map((r) => whenUp(r, 120_000)));
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.all(roles.map((r) => stopRole(r)));
    if (direct) {
      const { redis, config } = direct.container.platform;
      const keys = await redis.keys(`${config.queuePrefix}:*`).catch(() => [] as string[]);
      if (keys.length) await redis.del(...keys).catch(() => {});
      await direct.close();
    }
    raw?.destroy();
    await s3?.close();
    for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  });

  it('runs exports and deletions requested on either API exactly once, readable through the other', async () => {
    const pairs = [[apiA, apiB], [apiB, apiA]] as const;
    const exports = await Promise.all(pairs.map(async ([asked, other]) => {
      const u = await user(asked);
      const created = await asked.api().post('/api/v1/me/exports').set(u.auth).send({ passphrase: 'topology passphrase', password: u.password });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      return { u, id: created.body.id as string, other };
    }));
    const deletions = await Promise.all(pairs.map(async ([asked, other]) => {
      const u = await user(asked);
      const created = await asked.api().post('/api/v1/me/deletion').set(u.auth).send({ password: u.password });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      return { u, id: created.body.id as string, receiptPath: new URL(created.body.receiptUrl, 'http://x').pathname, other };
    }));

    for (const e of exports) {
      const status = await waitFor(async () => {
        const res = await e.other.api().get(`/api/v1/me/exports/${e.id}`).set(e.u.auth);
        expect(res.status).to.equal(200);
        expect(res.body.status).to.not.equal('failed');
        return res.body.status === 'completed' ? res.body : undefined;
      }, 90_000);
      expect(status.attempts).to.equal(1);
      expect((await requestRow(e.id)).attempts).to.equal(1);
      const file = await binary(e.other.api().get(`/api/v1/me/exports/${e.id}/download`).set(e.u.auth));
      expect(file.status).to.equal(200);
      expect((file.body as Buffer).length).to.equal(status.sizeBytes);
    }
    for (const d of deletions) {
      const receipt = await waitFor(async () => {
        const res = await d.other.api().get(d.receiptPath);
        return res.status === 200 ? res.body : undefined;
      }, 90_000);
      expect(JSON.parse(receipt.receipt).verification.passed).to.equal(true);
      const row = await requestRow(d.id);
      expect(row).to.include({ state: 'completed', attempts: 1 });
      expect(await direct.container.platform.db('users').where({ id: d.u.id }).first()).to.equal(undefined);
    }
  });

  it('a session revoked on one replica is refused by the other at once', async () => {
    const u = await user(apiA);
    const second = await u.login();
    expect((await apiB.api().get('/api/v1/me').set(second)).status).to.equal(200);
    const revoked = await apiA.api().delete('/api/v1/me/sessions').set(u.auth);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    expect(revoked.body.revoked).to.equal(1);
    expect((await apiB.api().get('/api/v1/me').set(second)).status).to.equal(401);
    expect((await apiB.api().get('/api/v1/me').set(u.auth)).status).to.equal(200);
    expect((await apiB.api().post('/api/v1/auth/logout').set(u.auth)).status).to.be.within(200, 204);
    expect((await apiA.api().get('/api/v1/me').set(u.auth)).status).to.equal(401);
  });

  it('an API key revoked on one replica is refused by the other at once, though that one had it cached', async () => {
    const u = await user(apiA);
    const created = await apiA.api().post('/api/v1/me/api-keys').set(u.auth).send({ name: 'topology', environment: 'live' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const key = { Authorization: `Bearer ${created.body.key}` };
    // Used on B for a moment: its first lookup subscribes B to the invalidation channel, the
    // ones after it are served from B's memory.
    for (let i = 0; i < 10; i++) {
      expect((await apiB.api().get('/v1/models').set(key)).status).to.equal(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await apiA.api().delete(`/api/v1/me/api-keys/${created.body.id}`).set(u.auth)).status).to.equal(204);
    const refused = await apiB.api().get('/v1/models').set(key);
    expect(refused.status).to.equal(401);
    expect(refused.body.error.code).to.equal('invalid_api_key');
  });

  it('an export whose worker is SIGKILLed mid-build completes on the other worker, published once', async () => {
    const u = await user(apiB);
    const { db, fieldCipher } = direct.container.platform;
    // Enough sessions that building the archive takes a while (each is decrypted on export).
    const rows = [];
    for (let i = 0; i < 20_000; i += 1) {
      const id = crypto.randomUUID();
      rows.push({ id, user_id: u.id, token_hash: randomBytes(32), expires_at: new Date(Date.now() + 3600_000),
        data_enc: await fieldCipher.encryptJson(u.id, { table: 'sessions', column: 'data_enc', rowId: id }, { userAgent: `agent-${i}`, ip: '203.0.113.7', secondFactor: 'none' }) });
    }
    for (let i = 0; i < rows.length; i += 2000) await db('sessions').insert(rows.slice(i, i + 2000));
    const passphrase = 'killed worker passphrase';
    // worker-2 is frozen (SIGSTOP) while the export is taken, so worker-1 holds it; worker-1 is
    // then SIGKILLed mid-build and worker-2 thawed: it must take over the stalled job.
    const [victim, survivor] = workers;
    survivor.child.kill('SIGSTOP');
    let created;
    try {
      created = await apiB.api().post('/api/v1/me/exports').set(u.auth).send({ passphrase, password: u.password });
      expect(created.status, JSON.stringify(created.body)).to.equal(202);
      await waitFor(async () => (await requestRow(created!.body.id)).state === 'processing', 60_000, 20);
      await stopRole(victim, 'SIGKILL');
    } finally {
      survivor.child.kill('SIGCONT');
    }
    expect((await requestRow(created.body.id)).state).to.equal('processing');

    const done = await waitFor(async () => {
      const res = await apiA.api().get(`/api/v1/me/exports/${created.body.id}`).set(u.auth);
      expect(res.body.status).to.not.equal('failed');
      return res.body.status === 'completed' ? res.body : undefined;
    }, 120_000, 250);
    expect(done.attempts).to.equal(2); // taken twice (the killed one, the survivor), completed once
    const published = ((await raw.send(new ListObjectsV2Command({ Bucket: 'topology-artifacts', Prefix: `exports/${u.id}/` }))).Contents ?? [])
      .filter((o) => !o.Key!.endsWith('.partial'));
    expect(published.map((o) => o.Size)).to.deep.equal([done.sizeBytes]);
    const archive = await decryptWithPassphrase((await binary(apiA.api().get(`/api/v1/me/exports/${created.body.id}/download`).set(u.auth))).body as Buffer, passphrase);
    expect(archive.subarray(0, 2).toString()).to.equal('PK');
  });

  it('two schedulers never run one scheduled job twice', async () => {
    const { db, queues } = direct.container.platform;
    const today = new Date().toISOString().slice(0, 10);
    // The nightly backup (every 5 s here, in both schedulers) ran once: one job, one attempt, one row per kind.
    const backups = await waitFor(async () => {
      const r = await db('backup_runs').where({ scheduled_for: today, status: 'succeeded' });
      return r.length === 2 ? r : undefined;
    }, 60_000, 500);
    expect(backups.map((b) => b.kind).sort()).to.deep.equal(['data', 'keystore']);
    expect(await db('backup_runs').where({ scheduled_for: today }).count('* as n').then((r) => Number(r[0].n))).to.equal(2);
    const jobs = await queues.queue('backups-run').getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(jobs.map((j) => [j.id, j.attemptsMade])).to.deep.equal([[`backup-${today}`, 1]]);
    // The audit seal fires every 10 s in both schedulers: at most one job per 10-s slot.
    const seals = (await queues.queue('audit').getJobs(['completed', 'waiting', 'active', 'delayed'])).filter((j) => j.id!.startsWith('audit-seal-'));
    const slots = Math.ceil((Date.now() - startedAt) / 10_000) + 1;
    expect(seals.length).to.be.greaterThan(0);
    expect(seals.length).to.be.at.most(slots);
    expect(new Set(seals.map((j) => j.id)).size).to.equal(seals.length);
  });
});
