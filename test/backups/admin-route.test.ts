// GET /api/v1/admin/backups: the ops view, for admin and security staff only; and the nightly
// job's deterministic id and idempotent run.
import { expect } from 'chai';
import { backupJobs } from '../../jobs/backups.js';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser } from '../support/accounts.js';

describe('backups: ops view and nightly job', function () {
  this.timeout(60_000);

  it('lists backups with status, size and verification for admin and security staff', async () => {
    const run = await testContainer().backups.run();
    await testContainer().backups.verify({ id: run.id });
    for (const role of ['admin', 'security'] as const) {
      const staff = await createStaff(role);
      const res = await api().get('/api/v1/admin/backups').set(staff.auth);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const item = res.body.items.find((i: { id: string }) => i.id === run.id);
      expect(item).to.include({ kind: 'data', status: 'succeeded', sizeBytes: run.sizeBytes });
      expect(item.verification.status).to.equal('passed');
      expect(item.verification.durationMs).to.be.a('number');
    }
    const staff = await createStaff('admin');
    const keystoreOnly = await api().get('/api/v1/admin/backups?kind=keystore').set(staff.auth);
    expect(keystoreOnly.status).to.equal(200);
    expect(keystoreOnly.body.items.every((i: { kind: string }) => i.kind === 'keystore')).to.equal(true);
  });

  it('refuses support and dpo staff (403), users and anonymous callers (401)', async () => {
    for (const role of ['support', 'dpo'] as const) {
      const staff = await createStaff(role);
      const res = await api().get('/api/v1/admin/backups').set(staff.auth);
      expect(res.status).to.equal(403);
      expect(res.headers['content-type']).to.match(/problem\+json/);
    }
    const user = await createUser();
    expect((await api().get('/api/v1/admin/backups').set(user.auth)).status).to.equal(401);
    expect((await api().get('/api/v1/admin/backups')).status).to.equal(401);
  });

  it('enqueues the nightly backup once per night under a deterministic job id', async () => {
    const container = testContainer();
    const nightly = backupJobs(container).schedules!.find((s) => s.name === 'backups-nightly')!;
    await nightly.run();
    await nightly.run();
    const queue = container.platform.queues.queue('backups-run');
    const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    const today = new Date().toISOString().slice(0, 10);
    expect(jobs.map((j) => j.id)).to.deep.equal([`backup-${today}`]);
    expect(jobs[0].data).to.deep.equal({ date: today }); // the date only, no secrets or data
    await queue.obliterate({ force: true });
  });

  it('runs a scheduled night idempotently: data and key store once, a retry reuses them', async () => {
    const { backups } = testContainer();
    const first = await backups.runScheduled('2030-01-02');
    expect(first.map((r) => r.kind)).to.deep.equal(['data', 'keystore']);
    const again = await backups.runScheduled('2030-01-02');
    expect(again.map((r) => r.id)).to.deep.equal(first.map((r) => r.id));
    // The key-store backup restores on its own, with the same row counts as the key store had.
    const keystore = await backups.verify({ id: first[1].id });
    expect(keystore.ok, keystore.error).to.equal(true);
    expect(keystore.tables.map((t) => t.table)).to.deep.equal(['keystore.data_keys']);
  });
});
