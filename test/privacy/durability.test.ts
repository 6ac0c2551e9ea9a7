// Durability: PostgreSQL is the truth. A worker killed mid-job, or a Redis that lost every job,
// delays an export or a deletion and never loses it, half-publishes nothing, orphans no row.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { api, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { decryptWithPassphrase, download, readZip, startChildWorker, stopChild, waitFor, waitForExport } from './support.js';

const requestRow = (id: string) => testContainer().platform.db('privacy_requests').where({ id }).first();

describe('privacy: durability', function () {
  this.timeout(300_000);
  let child: ChildProcess | undefined;
  afterEach(async () => { if (child) await stopChild(child); child = undefined; });

  it('an export whose worker is SIGKILLed mid-build finishes on another worker, published whole', async () => {
    const user = await createUser('kill-export');
    const { db, fieldCipher, artifacts } = testContainer().platform;
    // Enough sessions that building the archive takes a while (each is decrypted on export).
    const rows = [];
    for (let i = 0; i < 20_000; i += 1) {
      const id = crypto.randomUUID();
      rows.push({ id, user_id: user.id, token_hash: randomBytes(32), expires_at: new Date(Date.now() + 3600_000),
        data_enc: await fieldCipher.encryptJson(user.id, { table: 'sessions', column: 'data_enc', rowId: id }, { userAgent: `agent-${i}`, ip: '203.0.113.7', secondFactor: 'none' }) });
    }
    for (let i = 0; i < rows.length; i += 2000) await db('sessions').insert(rows.slice(i, i + 2000));
    const passphrase = 'killed worker passphrase';
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password }).expect(202);

    child = startChildWorker();
    await waitFor(async () => (await requestRow(created.body.id)).state === 'processing', 60_000, 20);
    await stopChild(child, 'SIGKILL');
    expect((await requestRow(created.body.id)).state).to.equal('processing');
    expect(await artifacts.list(`exports/${user.id}/`)).to.deep.equal([]);

    child = startChildWorker();
    const done = await waitForExport(user, created.body.id, 120_000);
    expect(done.attempts).to.be.greaterThan(1);
    const published = await artifacts.list(`exports/${user.id}/`);
    expect(published.map((o) => o.size)).to.deep.equal([done.sizeBytes]);
    const archive = readZip(await decryptWithPassphrase((await download(user, created.body.id)).body as Buffer, passphrase));
    expect(JSON.parse(archive.entry('data/accounts/sessions.json').toString())).to.have.length(20_001);
  });

  it('a deletion whose worker is SIGKILLed between batches resumes: exact counts, no orphan rows', async () => {
    const config = testContainer().platform.config.privacy;
    const grace = config.deletionGraceDays;
    config.deletionGraceDays = 0;
    try {
      const user = await createUser('kill-delete');
      const { db } = testContainer().platform;
      await db.raw(`INSERT INTO sessions (user_id, token_hash, data_enc, expires_at)
        SELECT ?, gen_random_bytes(32), gen_random_bytes(64), now() + interval '1 hour' FROM generate_series(1, 300000)`, [user.id]);
      const requested = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password }).expect(202);
      child = startChildWorker();
      // A busy machine (CI next to other jobs) can take most of a minute to start a tsx worker.
      await waitFor(async () => ((await requestRow(requested.body.id)).progress.counts?.['sessions.user_id'] ?? 0) > 0, 120_000, 20);
      await stopChild(child, 'SIGKILL');
      const partial = (await requestRow(requested.body.id)).progress.counts['sessions.user_id'];
      expect(partial).to.be.lessThan(300_001);
      expect(Number((await db('sessions').where({ user_id: user.id }).count('* as n'))[0].n)).to.equal(300_001 - partial);

      child = startChildWorker();
      const row = await waitFor(async () => {
        const r = await requestRow(requested.body.id);
        expect(r.state).to.not.equal('failed');
        return r.state === 'completed' ? r : undefined;
      }, 120_000);
      const receipt = JSON.parse(row.receipt);
      expect(receipt.deletedRows['sessions.user_id']).to.equal(300_001);
      expect(receipt.verification.passed).to.equal(true);
      expect(Number((await db('sessions').where({ user_id: user.id }).count('* as n'))[0].n)).to.equal(0);
      expect(await db('users').where({ id: user.id }).first()).to.equal(undefined);
    } finally {
      config.deletionGraceDays = grace;
    }
  });

  it('after Redis lost every job, the reconciler re-enqueues pending requests and they complete', async () => {
    const user = await createUser('flush');
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'flushed passphrase 1', password: user.password }).expect(202);
    const { redis, config, queues } = testContainer().platform;
    const keys = await redis.keys(`${config.queuePrefix}:*`);
    if (keys.length) await redis.del(...keys);
    expect(await queues.queue('privacy-export').getJob(created.body.id)).to.equal(undefined);
    expect(await testContainer().privacy.reconcile()).to.be.greaterThan(0);
    expect((await queues.queue('privacy-export').getJob(created.body.id))?.data).to.deep.equal({ requestId: created.body.id });
    expect(await testContainer().privacy.reconcile()).to.equal(0); // a live job is left alone
    child = startChildWorker();
    await waitForExport(user, created.body.id, 60_000);
  });
});
