// Incidents through HTTP: deadlines derived from awareAt (GDPR Art. 33's 72 hours, the 24-hour
// promise to users) across a weekend and a DST change, a timeline, the overdue list, audited
// changes, and notices to affected users written by a job into the PostgreSQL outbox.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser, type TestStaff, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { startWorkers, type RunningRole } from '../../src/roles.js';

type Deadline = { kind: string; dueAt: string; metAt: string | null; overdue: boolean };
const deadline = (body: { deadlines: Deadline[] }, kind: string) => body.deadlines.find((d) => d.kind === kind);

async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('trust: incidents', function () {
  this.timeout(60_000);
  let security: TestStaff;
  let alice: TestUser;
  let bob: TestUser;
  const db = () => testContainer().platform.db;
  const open = (body: Record<string, unknown>) => api().post('/api/v1/admin/incidents').set(security.auth).send(body);

  before(async () => {
    security = await createStaff('security');
    alice = await createUser('incident-a');
    bob = await createUser('incident-b');
  });

  it('derives the deadlines from awareAt: authority 72 elapsed hours (weekend and DST included), users 24 hours', async () => {
    // Friday 23 Oct 2026 18:00 in Berlin (CEST, UTC+2); summer time ends on Sunday the 25th.
    const res = await open({ title: 'Leaked session tokens', severity: 'high', awareAt: '2026-10-23T18:00:00+02:00', personalDataInvolved: true, affectedUserIds: [alice.id, bob.id] });
    expect(res.status, res.text).to.equal(201);
    expect(res.body.affectedUsers).to.equal(2);
    // Art. 33 counts hours, not business days: Monday 16:00 UTC (17:00 CET), the weekend included.
    expect(deadline(res.body, 'authority')).to.deep.equal({ kind: 'authority', dueAt: '2026-10-26T16:00:00.000Z', metAt: null, overdue: true });
    expect(deadline(res.body, 'users')).to.deep.equal({ kind: 'users', dueAt: '2026-10-24T16:00:00.000Z', metAt: null, overdue: true });
    expect(res.body.timeline.map((t: { kind: string }) => t.kind)).to.deep.equal(['opened']);
  });

  it('asks for no authority notification without personal data, and lists only overdue incidents on request', async () => {
    const recent = await open({ title: 'Defaced status page', severity: 'low', awareAt: new Date(Date.now() - 3600_000).toISOString(), personalDataInvolved: false }).expect(201);
    expect(recent.body.deadlines).to.deep.equal([]);
    const breach = await open({ title: 'Fresh breach', severity: 'critical', awareAt: new Date(Date.now() - 3600_000).toISOString(), personalDataInvolved: true }).expect(201);
    expect(breach.body.deadlines.map((d: Deadline) => [d.kind, d.overdue])).to.deep.equal([['authority', false], ['users', false]]);
    const old = await open({ title: 'Old breach', severity: 'medium', awareAt: new Date(Date.now() - 80 * 3600_000).toISOString(), personalDataInvolved: true }).expect(201);
    const overdue = await api().get('/api/v1/admin/incidents?overdue=true').set(security.auth).expect(200);
    const ids = overdue.body.items.map((i: { id: string }) => i.id);
    expect(ids).to.include(old.body.id);
    expect(ids).to.not.include.members([recent.body.id, breach.body.id]);
    // The flag follows the stored fact: record the authority notice in time and it is no longer overdue for it.
    const notified = await api().patch(`/api/v1/admin/incidents/${breach.body.id}`).set(security.auth).send({ authorityNotifiedAt: new Date().toISOString() });
    expect(notified.status, notified.text).to.equal(200);
    expect(deadline(notified.body, 'authority')!.overdue).to.equal(false);
    expect(deadline(notified.body, 'authority')!.metAt).to.be.a('string');
    expect(notified.body.timeline.map((t: { kind: string }) => t.kind)).to.deep.equal(['opened', 'authority_notified']);
  });

  it('refuses unknown affected users and an awareness time in the future, with problems naming the field', async () => {
    const unknown = expectProblem(await open({ title: 'Bad ids', severity: 'low', awareAt: new Date().toISOString(), personalDataInvolved: true, affectedUserIds: [randomUUID()] }), 400);
    expect(String(unknown.detail)).to.contain('affectedUserIds');
    const future = expectProblem(await open({ title: 'Tomorrow', severity: 'low', awareAt: new Date(Date.now() + 86_400_000).toISOString(), personalDataInvolved: false }), 400);
    expect(String(future.detail)).to.contain('awareAt');
  });

  describe('notifying affected users', () => {
    let workers: RunningRole;
    before(() => { workers = startWorkers(testContainer()); });
    after(async () => { await workers.close(); });

    it('records the request, runs a job carrying only its id, and writes one outbox message per affected user', async () => {
      const incident = await open({ title: 'Exposed exports', severity: 'high', awareAt: new Date(Date.now() - 2 * 3600_000).toISOString(), personalDataInvolved: true, affectedUserIds: [alice.id, bob.id] }).expect(201);
      await api().post(`/api/v1/admin/incidents/${incident.body.id}/updates`).set(security.auth).send({ body: 'Exports bucket closed; rotating keys.' }).expect(201);
      const requested = await api().post(`/api/v1/admin/incidents/${incident.body.id}/user-notifications`).set(security.auth)
        .send({ message: 'An export link was exposed for two hours. Request a new export; the old link no longer works.' });
      expect(requested.status, requested.text).to.equal(202);
      const job = await testContainer().platform.queues.queue('trust-incident-notify').getJob(requested.body.id);
      expect(job, "the BullMQ job").to.not.equal(undefined);
      expect(job!.data).to.deep.equal({ notificationId: requested.body.id });
      const done = await waitFor(async () => {
        const n = await api().get(`/api/v1/admin/incidents/${incident.body.id}/user-notifications/${requested.body.id}`).set(security.auth).expect(200);
        return n.body.state === 'completed' ? n.body : undefined;
      });
      expect(done.recipients).to.equal(2);
      for (const user of [alice, bob]) {
        const messages = await db()('trust_outbox').where({ user_id: user.id, kind: 'incident_notice' });
        expect(messages.filter((m) => m.dedupe_key.includes(requested.body.id))).to.have.length(1);
        expect(messages[messages.length - 1]).to.include({ subject: 'Security notice: Exposed exports', state: 'queued' });
      }
      // Running the job again (a retry, a reconciler) writes nothing twice.
      await testContainer().trust.incidents.deliverNotification(requested.body.id);
      expect(await db()('trust_outbox').whereLike('dedupe_key', `%${requested.body.id}%`)).to.have.length(2);

      const after = await api().get(`/api/v1/admin/incidents/${incident.body.id}`).set(security.auth).expect(200);
      expect(deadline(after.body, 'users')).to.include({ overdue: false });
      expect(after.body.usersNotifiedAt).to.be.a('string');
      expect(after.body.timeline.map((t: { kind: string }) => t.kind)).to.deep.equal(['opened', 'update', 'users_notified']);
      const audited = await db()('audit_events').whereRaw('? = ANY(resource_ids)', [incident.body.id]).orderBy('seq').select('action', 'actor_staff_id');
      expect(audited.map((e) => e.action)).to.deep.equal(['trust.incident.open', 'trust.incident.update', 'trust.incident.notify_users']);
      expect(audited.every((e) => e.actor_staff_id === security.id)).to.equal(true);
    });

    it('re-enqueues a pending notice from PostgreSQL when its job was lost', async () => {
      const incident = await open({ title: 'Lost job', severity: 'low', awareAt: new Date().toISOString(), personalDataInvolved: false, affectedUserIds: [alice.id] }).expect(201);
      const id = randomUUID();
      await db()('incident_notifications').insert({ id, incident_id: incident.body.id, message: 'A notice whose job never reached Redis.', created_by: security.id });
      expect(await testContainer().trust.incidents.reconcile()).to.be.greaterThan(0);
      await waitFor(async () => (await db()('incident_notifications').where({ id }).first()).state === 'completed');
      expect(await db()('trust_outbox').where({ user_id: alice.id }).whereLike('dedupe_key', `%${id}%`)).to.have.length(1);
    });
  });
});
