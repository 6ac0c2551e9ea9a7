// Sub-processors through HTTP: the public list with upcoming changes and their notice, the Atom
// feed, double opt-in subscriptions, notices written to the outbox by the job when a change is
// announced and when it takes effect, and every staff change audited.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { api, testContainer } from '../support/app.js';
import { createStaff, type TestStaff } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

describe('trust: sub-processors', function () {
  this.timeout(60_000);
  let admin: TestStaff;
  const db = () => testContainer().platform.db;
  const trust = () => testContainer().trust;
  const day = 86_400_000;

  before(async () => {
    admin = await createStaff('admin');
  });

  it('lists a sub-processor once in effect, and an announced one as upcoming with its notice period', async () => {
    const live = await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: 'Hetzner Online GmbH', purpose: 'Hosting', location: 'Germany (EU)', dataCategories: ['account data', 'chat content (encrypted)'], effectiveAt: new Date(Date.now() - day).toISOString() });
    expect(live.status, live.text).to.equal(201);
    const planned = await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: 'Postmark', purpose: 'Transactional email', location: 'USA', dataCategories: ['email address'] }).expect(201);
    // Default: effective after the configured notice period (30 days).
    expect(new Date(planned.body.effectiveAt).getTime() - Date.now()).to.be.closeTo(30 * day, 60_000);

    const list = await api().get('/api/v1/trust/subprocessors');
    expect(list.status, list.text).to.equal(200);
    expect(list.headers['cache-control']).to.match(/^public/);
    expect(list.body.items.map((s: { name: string }) => s.name)).to.include('Hetzner Online GmbH').and.not.include('Postmark');
    const upcoming = list.body.upcoming.find((c: { subprocessorId: string }) => c.subprocessorId === planned.body.id);
    expect(upcoming).to.include({ kind: 'added', name: 'Postmark', noticeDays: 30 });
    expect(list.body.noticePeriodDays).to.equal(30);

    const audited = await db()('audit_events').where({ action: 'trust.subprocessor.add', actor_staff_id: admin.id });
    expect(audited.flatMap((e) => e.resource_ids)).to.include.members([live.body.id, planned.body.id]);
  });

  it('publishes the changes as a valid Atom feed', async () => {
    const res = await api().get('/api/v1/trust/subprocessors/feed');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.equal('application/atom+xml; charset=utf-8');
    const text = res.text;
    expect(text).to.match(/^<\?xml version="1.0" encoding="utf-8"\?>\n<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/);
    // RFC 4287 §4.1.1: a feed has exactly one id, title and updated; each entry has id, title, updated.
    const feedHead = text.slice(0, text.indexOf('<entry>'));
    for (const el of ['id', 'title', 'updated']) expect(feedHead.match(new RegExp(`<${el}>`, 'g')), el).to.have.length(1);
    const entries = text.split('<entry>').slice(1);
    expect(entries.length).to.be.greaterThan(1);
    for (const entry of entries) {
      expect(entry).to.match(/<id>urn:uuid:[0-9a-f-]{36}<\/id>/);
      expect(entry).to.match(/<updated>\d{4}-\d{2}-\d{2}T[\d:.]+Z<\/updated>/);
    }
    expect(text).to.contain('<title>Added: Postmark</title>');
  });

  it('subscribes with double opt-in: nothing is sent to a pending address, notices go out on announcement and on taking effect', async () => {
    const email = `watcher-${randomBytes(4).toString('hex')}@example.test`;
    const res = await api().post('/api/v1/trust/subscriptions').send({ email });
    expect(res.status, res.text).to.equal(202);
    // The same answer for an address already there (no way to learn who subscribed).
    expect((await api().post('/api/v1/trust/subscriptions').send({ email: email.toUpperCase() })).status).to.equal(202);
    const subs = await db()('trust_subscriptions').where({ state: 'pending' });
    const stored = JSON.stringify(subs) + subs.map((s) => Buffer.concat([s.email_enc, s.email_hash]).toString('latin1')).join('');
    expect(stored).to.not.contain(email);
    const mine = await db()('trust_outbox').where({ kind: 'subscription_confirm' }).orderBy('created_at', 'desc').first();
    expect(JSON.stringify(mine)).to.not.contain('cts_');
    const link = await testContainer().platform.fieldCipher.decryptText({ table: 'trust_outbox', column: 'link_enc', rowId: mine.id }, mine.link_enc);
    const token = /\/confirm\/(cts_[A-Za-z0-9_-]+)$/.exec(link)![1];

    // Announced while pending: the pending address receives nothing.
    await trust().subprocessors.sendNotices();
    const subscription = await db()('trust_subscriptions').where({ id: mine.subscription_id }).first();
    expect(await db()('trust_outbox').where({ subscription_id: subscription.id }).whereNot({ kind: 'subscription_confirm' })).to.have.length(0);

    expectProblem(await api().get(`/api/v1/trust/subscriptions/confirm/cts_${'x'.repeat(43)}`), 404);
    expect((await api().get(`/api/v1/trust/subscriptions/confirm/${token}`).expect(200)).body).to.deep.equal({ status: 'confirmed' });

    const vendor = await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: 'Sentry', purpose: 'Error reports', location: 'EU', dataCategories: ['request ids'], effectiveAt: new Date(Date.now() + 10 * day).toISOString() }).expect(201);
    await trust().subprocessors.sendNotices();
    let notices = await db()('trust_outbox').where({ subscription_id: subscription.id }).whereLike('dedupe_key', `%`).orderBy('created_at');
    const sentry = () => notices.filter((n) => n.subject.includes('Sentry'));
    expect(sentry().map((n) => n.kind)).to.deep.equal(['subprocessor_announced']);
    expect(sentry()[0].body).to.contain("10 days' notice");

    // Taking effect: the job sends the second notice once, however often it runs.
    await db()('subprocessor_changes').where({ subprocessor_id: vendor.body.id }).update({ effective_at: new Date(Date.now() - 1000) });
    await trust().subprocessors.sendNotices();
    await trust().subprocessors.sendNotices();
    notices = await db()('trust_outbox').where({ subscription_id: subscription.id }).orderBy('created_at');
    expect(sentry().map((n) => n.kind)).to.deep.equal(['subprocessor_announced', 'subprocessor_effective']);
    expect(sentry().every((n) => n.state === 'queued')).to.equal(true);
  });

  it('announces a removal with notice, keeps listing it until then, and audits changes; other roles are refused', async () => {
    const s = await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: 'OldCDN', purpose: 'CDN', location: 'USA', dataCategories: ['IP address'], effectiveAt: new Date(Date.now() - 100 * day).toISOString() }).expect(201);
    const renamed = await api().patch(`/api/v1/admin/trust/subprocessors/${s.body.id}`).set(admin.auth).send({ location: 'EU' });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.body.location).to.equal('EU');
    const removed = await api().delete(`/api/v1/admin/trust/subprocessors/${s.body.id}`).set(admin.auth).expect(200);
    expect(new Date(removed.body.removalEffectiveAt).getTime() - Date.now()).to.be.closeTo(30 * day, 60_000);
    let list = await api().get('/api/v1/trust/subprocessors').expect(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).to.include(s.body.id);
    expect(list.body.upcoming.map((c: { kind: string; subprocessorId: string }) => `${c.kind}:${c.subprocessorId}`)).to.include(`removed:${s.body.id}`);
    await db()('subprocessors').where({ id: s.body.id }).update({ removal_effective_at: new Date(Date.now() - 1000) });
    await db()('subprocessor_changes').where({ subprocessor_id: s.body.id, kind: 'removed' }).update({ effective_at: new Date(Date.now() - 1000) });
    list = await api().get('/api/v1/trust/subprocessors').expect(200);
    expect(list.body.items.map((x: { id: string }) => x.id)).to.not.include(s.body.id);
    const actions = (await db()('audit_events').whereRaw('? = ANY(resource_ids)', [s.body.id]).orderBy('seq')).map((e) => e.action);
    expect(actions).to.deep.equal(['trust.subprocessor.add', 'trust.subprocessor.update', 'trust.subprocessor.remove']);
    const support = await createStaff('support');
    expectProblem(await api().delete(`/api/v1/admin/trust/subprocessors/${s.body.id}`).set(support.auth), 403);
  });
});
