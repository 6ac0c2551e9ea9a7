import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createStaff, createUser, type TestStaff } from '../support/accounts.js';
import { reasonHeaders, trail } from './helpers.js';

describe('audit: staff access to user data', () => {
  let support: TestStaff;
  let dpo: TestStaff;
  before(async () => {
    [support, dpo] = await Promise.all([createStaff('support'), createStaff('dpo')]);
  });

  it('records a staff read with its reason before returning the account', async () => {
    const user = await createUser('looked-up');
    const res = await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders('TICKET-1 cannot log in'));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.email).to.equal(user.email);
    const events = await trail(dpo, { userId: user.id });
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ action: 'admin.user.read', outcome: 'allowed', reason: 'support_request', justification: 'TICKET-1 cannot log in', subjectUserId: user.id });
    expect(events[0].actor).to.deep.equal({ kind: 'staff', staffId: support.id, email: support.email, role: 'support' });
    expect(events[0].requestId).to.equal(res.headers['x-request-id']);
  });

  it('refuses a read without a reason (400, nothing read) and records it as denied', async () => {
    const user = await createUser('no-reason');
    const res = await api().get(`/api/v1/admin/users/${user.id}/sessions`).set(support.auth).set({ 'X-Access-Justification': 'x' });
    expect(res.status).to.equal(400);
    expect(res.headers['content-type']).to.match(/problem\+json/);
    expect(JSON.stringify(res.body)).not.to.contain(user.email);
    const bad = await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set({ 'X-Access-Reason': 'curiosity', 'X-Access-Justification': 'x' });
    expect(bad.status).to.equal(400);
    const events = await trail(dpo, { userId: user.id });
    expect(events.map((e) => [e.action, e.outcome, e.actor.staffId])).to.deep.equal([
      ['admin.user.read', 'denied', support.id],
      ['admin.user.sessions.read', 'denied', support.id],
    ]);
    expect(events[1].detail).to.equal('denied: invalid_request');
  });

  it('records a wrong-role attempt as denied', async () => {
    const security = await createStaff('security');
    const user = await createUser('wrong-role');
    const res = await api().get(`/api/v1/admin/users/${user.id}`).set(security.auth).set(reasonHeaders());
    expect(res.status).to.equal(403);
    const [event] = await trail(dpo, { userId: user.id });
    expect(event).to.include({ outcome: 'denied', detail: 'denied: role', reason: 'support_request' });
    expect(event.actor.role).to.equal('security');
  });

  it('fails closed: when the audit insert fails, the read fails and returns no data', async () => {
    const user = await createUser('fail-closed');
    const db = privilegedDb(); // only the owner can rename the table away
    await db.raw('ALTER TABLE audit_events RENAME TO audit_events_unavailable');
    try {
      const res = await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders());
      expect(res.status).to.be.at.least(500);
      expect(JSON.stringify(res.body)).not.to.contain(user.email);
    } finally {
      await db.raw('ALTER TABLE audit_events_unavailable RENAME TO audit_events');
    }
    expect(await trail(dpo, { userId: user.id })).to.have.length(0);
  });

  it('records a staff change: revoking every session of a user signs them out', async () => {
    const user = await createUser('revoked');
    const res = await api().delete(`/api/v1/admin/users/${user.id}/sessions`).set(dpo.auth).set({ ...reasonHeaders(), 'X-Access-Reason': 'security_incident' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.revoked).to.equal(1);
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(401);
    const [event] = await trail(dpo, { userId: user.id });
    expect(event).to.include({ action: 'admin.user.sessions.revoke', outcome: 'allowed', reason: 'security_incident' });
  });

  it('a user sees exactly the staff accesses to their own account, under a pseudonym', async () => {
    const [alice, bob] = await Promise.all([createUser('alice'), createUser('bob')]);
    await api().get(`/api/v1/admin/users/${alice.id}`).set(support.auth).set(reasonHeaders()).expect(200);
    await api().get(`/api/v1/admin/users/${alice.id}/sessions`).set(support.auth).set(reasonHeaders()).expect(200);
    await api().get(`/api/v1/admin/users/${bob.id}`).set(support.auth).set(reasonHeaders()).expect(200);
    await api().get(`/api/v1/admin/users/${alice.id}`).set(support.auth).expect(400); // denied, read nothing
    const log = await api().get('/api/v1/me/access-log').set(alice.auth);
    expect(log.status, JSON.stringify(log.body)).to.equal(200);
    expect(log.body.items.map((e: { action: string }) => e.action)).to.deep.equal(['admin.user.sessions.read', 'admin.user.read']);
    expect(log.body.items[0].staff.role).to.equal('support');
    expect(log.body.items[0].staff.display).to.match(/^staff-[0-9a-f]{12}$/);
    expect(JSON.stringify(log.body)).not.to.contain(support.email);
    const bobLog = await api().get('/api/v1/me/access-log').set(bob.auth);
    expect(bobLog.body.items).to.have.length(1);
    const page = await api().get('/api/v1/me/access-log').query({ limit: 1 }).set(alice.auth);
    expect(page.body.items).to.have.length(1);
    const next = await api().get('/api/v1/me/access-log').query({ limit: 1, cursor: page.body.nextCursor }).set(alice.auth);
    expect(next.body.items[0].seq).to.be.below(page.body.items[0].seq);
    expect(next.body.nextCursor).to.equal(null);
  });

  it('lets the user\'s data export include the access log', async () => {
    const user = await createUser('export');
    await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders()).expect(200);
    const audit = testContainer().modules.find((m) => m.name === 'audit')!;
    const rows = [];
    for await (const row of audit.personalData!.collections[0].rows(user.id)) rows.push(row);
    expect(audit.personalData!.collections[0].name).to.equal('staff_access_log');
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ action: 'admin.user.read', reason: 'support_request' });
  });

  it('keeps the trail from support staff, and records their attempt', async () => {
    for (const path of ['/api/v1/audit/events', '/api/v1/audit/verify']) {
      const res = await api().get(path).set(support.auth);
      expect(res.status, path).to.equal(403);
    }
    const events = await trail(dpo, { staffId: support.id, outcome: 'denied', action: 'listAuditEvents' });
    expect(events).to.have.length(1);
  });

  it('audits reading the trail, and exports it as CSV and JSON Lines', async () => {
    const user = await createUser('exported');
    await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders('=HYPERLINK("x")')).expect(200);
    const csv = await api().get('/api/v1/audit/events').query({ userId: user.id, format: 'csv' }).set(dpo.auth).buffer(true).parse((res, cb) => {
      let data = ''; res.on('data', (c: Buffer) => { data += c; }); res.on('end', () => cb(null, data));
    });
    expect(csv.status).to.equal(200);
    expect(csv.headers['content-type']).to.match(/text\/csv/);
    const lines = (csv.body as string).trim().split('\r\n');
    expect(lines[0]).to.match(/^seq,occurredAt,/);
    expect(lines).to.have.length(2);
    expect(lines[1]).to.contain(`'=HYPERLINK`);
    const jsonl = await api().get('/api/v1/audit/events').query({ userId: user.id, format: 'jsonl' }).set(dpo.auth).buffer(true).parse((res, cb) => {
      let data = ''; res.on('data', (c: Buffer) => { data += c; }); res.on('end', () => cb(null, data));
    });
    const records = (jsonl.body as string).trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.action)).to.deep.equal(['admin.user.read']);
    const reads = await trail(dpo, { staffId: dpo.id, action: 'audit.events.export' });
    expect(reads.length).to.be.at.least(2);
    expect(reads[0].detail).to.contain(user.id);
  });
});
