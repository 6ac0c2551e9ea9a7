// Deletion: the grace period (locked except to cancel), the erasure itself (every table that
// references users is empty for the user, files gone, key destroyed), the signed receipt, and
// the DPO's view of requests.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { verify, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningRole } from '../../src/roles.js';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser } from '../support/accounts.js';
import { seedChatData, startInProcessWorkers, tempDir, waitFor, waitForExport } from './support.js';
import { optionalTool } from '../support/tools.js';

async function userReferenceCounts(userId: string): Promise<Record<string, number>> {
  const { db } = testContainer().platform;
  // Found independently of the code under test: every single-column FK to users(id).
  const { rows } = await db.raw(`SELECT c.conrelid::regclass::text AS t, a.attname AS c FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass`);
  const counts: Record<string, number> = {};
  for (const r of rows) counts[`${r.t}.${r.c}`] = (await db.raw(`SELECT count(*)::int AS n FROM ${r.t} WHERE "${r.c}" = ?`, [userId])).rows[0].n;
  return counts;
}

describe('privacy: account deletion', function () {
  this.timeout(90_000);
  let workers: RunningRole | undefined;
  const config = () => testContainer().platform.config.privacy;
  let grace: number;
  before(() => { grace = config().deletionGraceDays; });
  afterEach(() => { config().deletionGraceDays = grace; });
  after(async () => { await workers?.close(); });

  it('during the grace period the account only sees and cancels its deletion; cancelling restores it', async () => {
    config().deletionGraceDays = 7;
    const user = await createUser('grace');
    expect((await api().post('/api/v1/me/deletion').set(user.auth).send({ password: 'wrong-password-1' })).status).to.equal(401);
    const requested = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
    expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
    expect(requested.body.status).to.equal('scheduled');
    expect(Date.parse(requested.body.scheduledFor) - Date.now()).to.be.closeTo(7 * 86_400_000, 60_000);
    expect(Date.parse(requested.body.dueAt)).to.be.greaterThan(Date.now() + 27 * 86_400_000);
    expect(requested.body.receiptUrl).to.match(/\/api\/v1\/deletion-receipts\/cdr_/);

    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(403);
    expect((await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'whatever passphrase', password: user.password })).status).to.equal(403);
    const login = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    expect(login.status).to.equal(200);
    const fresh = { Authorization: `Bearer ${login.body.token}` };
    expect((await api().get('/api/v1/me').set(fresh)).status).to.equal(403);
    expect((await api().get('/api/v1/me/deletion').set(fresh)).body.status).to.equal('scheduled');
    const pending = await api().get(requested.body.receiptUrl.replace(/^https?:\/\/[^/]+/, ''));
    expect(pending.status).to.equal(200);
    expect(pending.body).to.include({ status: 'scheduled', receipt: null });

    const cancelled = await api().delete('/api/v1/me/deletion').set(fresh);
    expect(cancelled.status).to.equal(200);
    expect(cancelled.body.status).to.equal('cancelled');
    const me = await api().get('/api/v1/me').set(user.auth);
    expect(me.status).to.equal(200);
    expect(me.body.status).to.equal('active');
    expect((await api().delete('/api/v1/me/deletion').set(user.auth)).status).to.equal(404);
  });

  it('with no grace period erases everything, shreds the key, and hands out a receipt anyone can verify', async () => {
    config().deletionGraceDays = 0;
    workers = startInProcessWorkers();
    const user = await createUser('erase');
    const other = await createUser('bystander');
    const chat = await seedChatData(user);
    await seedChatData(other);
    const exported = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'erase me passphrase', password: user.password }).expect(202);
    await waitForExport(user, exported.body.id);

    const { db, artifacts, fieldCipher } = testContainer().platform;
    const session = await db('sessions').where({ user_id: user.id }).first();
    const before = await userReferenceCounts(user.id);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).to.be.greaterThan(0);
    const ownObjects = async () => (await artifacts.list('')).filter((o) => o.key.includes(user.id));
    expect((await ownObjects()).length).to.be.greaterThan(0);
    const otherBefore = await userReferenceCounts(other.id);

    const requested = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
    expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
    const receiptPath = new URL(requested.body.receiptUrl, 'http://x').pathname;
    const done = await waitFor(async () => {
      const r = await api().get(receiptPath);
      expect(r.body.status).to.not.equal('failed');
      return r.body.status === 'completed' ? r.body : undefined;
    });

    expect(await userReferenceCounts(user.id)).to.satisfy((c: Record<string, number>) => Object.values(c).every((n) => n === 0));
    expect(await db('users').where({ id: user.id }).first()).to.equal(undefined);
    expect(await ownObjects()).to.deep.equal([]);
    expect(await userReferenceCounts(other.id)).to.deep.equal(otherBefore);
    expect((await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).to.equal(401);
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(401);

    let shredded: unknown;
    try {
      await fieldCipher.decryptJson({ table: 'sessions', column: 'data_enc', rowId: session.id }, session.data_enc);
    } catch (error) {
      shredded = error;
    }
    expect(shredded, 'old ciphertext must no longer decrypt').to.be.instanceOf(Error);

    const receipt = JSON.parse(done.receipt);
    expect(receipt).to.include({ requestId: requested.body.id, subject: user.id, dataKeyDestroyed: true });
    expect(receipt.verification.passed).to.equal(true);
    expect(Object.values(receipt.verification.tables).every((n) => n === 0)).to.equal(true);
    expect(receipt.deletedRows['sessions.user_id']).to.equal(before['sessions.user_id']);
    if (chat) expect(receipt.deletedRows['messages.user_id']).to.be.greaterThan(0);
    expect(receipt.retained.join(' ')).to.contain('audit trail');
    const key = await api().get('/api/v1/signing-key');
    expect(key.status).to.equal(200);
    expect(verify(null, Buffer.from(done.receipt), createPublicKey(key.body.publicKeyPem), Buffer.from(done.signature, 'base64'))).to.equal(true);
    const tampered = done.receipt.replace('"passed":true', '"passed":false');
    expect(verify(null, Buffer.from(tampered), createPublicKey(key.body.publicKeyPem), Buffer.from(done.signature, 'base64'))).to.equal(false);
    if (optionalTool('openssl')) {
      const dir = tempDir();
      writeFileSync(join(dir, 'key.pem'), key.body.publicKeyPem);
      writeFileSync(join(dir, 'receipt.json'), done.receipt);
      writeFileSync(join(dir, 'receipt.sig'), Buffer.from(done.signature, 'base64'));
      const ok = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, 'receipt.json'), '-sigfile', join(dir, 'receipt.sig')], { encoding: 'utf8' });
      expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    }
    const tombstone = await db('deleted_accounts').where({ user_id: user.id }).first();
    expect(tombstone.email_hash).to.be.instanceOf(Buffer);
    expect(JSON.stringify(tombstone)).to.not.contain(user.email);
  });

  it('shows requests to the DPO with type, state and overdue filters, and to nobody else', async () => {
    config().deletionGraceDays = 7;
    const user = await createUser('dpo-view');
    const requested = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password }).expect(202);
    await testContainer().platform.db('privacy_requests').where({ id: requested.body.id }).update({ due_at: new Date(Date.now() - 86_400_000) });
    const dpo = await createStaff('dpo');
    const overdue = await api().get('/api/v1/privacy/requests?type=deletion&overdue=true').set(dpo.auth);
    expect(overdue.status, JSON.stringify(overdue.body)).to.equal(200);
    const item = overdue.body.items.find((i: { id: string }) => i.id === requested.body.id);
    expect(item).to.include({ userId: user.id, type: 'deletion', state: 'scheduled', overdue: true });
    const notOverdue = await api().get('/api/v1/privacy/requests?overdue=false').set(dpo.auth);
    expect(notOverdue.body.items.map((i: { id: string }) => i.id)).to.not.include(requested.body.id);
    const exportsOnly = await api().get('/api/v1/privacy/requests?type=export').set(dpo.auth);
    expect(exportsOnly.body.items.every((i: { type: string }) => i.type === 'export')).to.equal(true);

    // Each read is an audited staff access: who, which requests (ids), with what filter.
    const trail = await api().get(`/api/v1/audit/events?action=privacy.requests.read&staffId=${dpo.id}`).set(dpo.auth);
    expect(trail.status, JSON.stringify(trail.body)).to.equal(200);
    expect(trail.body.items).to.have.length(3);
    const overdueRead = trail.body.items.find((e: { detail: string }) => JSON.parse(e.detail).overdue === true);
    expect(overdueRead).to.deep.include({ outcome: 'allowed', resourceType: 'privacy_requests' });
    expect(overdueRead.actor).to.include({ kind: 'staff', staffId: dpo.id, role: 'dpo' });
    expect(overdueRead.resourceIds).to.include(requested.body.id);
    expect(overdueRead.resourceIds).to.have.length(overdue.body.items.length);
    expect(JSON.parse(overdueRead.detail)).to.include({ type: 'deletion', overdue: true });

    const support = await createStaff('support');
    expect((await api().get('/api/v1/privacy/requests').set(support.auth)).status).to.equal(403);
    expect((await api().get('/api/v1/privacy/requests').set(user.auth)).status).to.equal(401);
  });
});
