import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createStaff, createUser, type TestStaff, type TestUser } from '../support/accounts.js';
import { reasonHeaders, trail } from './helpers.js';

/** A user with one of each chat-domain record, made through the user's own API. */
async function userWithData(label: string) {
  const user = await createUser(label);
  const secret = `canary-${label}-${Math.random().toString(36).slice(2)}`;
  const chat = await api().post('/api/v1/chats').set(user.auth).send({ title: `${secret} title` }).expect(201);
  await api().post(`/api/v1/chats/${chat.body.id}/messages`).set(user.auth).send({ role: 'user', content: `${secret} message` }).expect(201);
  const file = await api().post('/api/v1/files').set(user.auth).attach('file', Buffer.from(`${secret} file text\n`), 'notes.txt');
  expect(file.status, JSON.stringify(file.body)).to.equal(201);
  await api().post('/api/v1/smart-folders').set(user.auth).send({ name: `${secret} folder` }).expect(201);
  await api().post('/api/v1/assistants').set(user.auth).send({ name: `${secret} bot`, instructions: 'be brief', defaultModel: 'gpt-4o' }).expect(201);
  await testContainer().chat.recordTransaction(user.id, { kind: 'purchase', amountCents: 1500, currency: 'EUR', description: `${secret} credits` });
  return { user, secret, chatId: chat.body.id as string, fileId: file.body.id as string };
}

type Target = Awaited<ReturnType<typeof userWithData>>;

/** Every staff read of the chat domain: path, recorded action/resource, and what the response must show. */
const ROUTES: Array<{ name: string; path: (t: Target) => string; action: string; resourceType: string; ids: (t: Target) => string[]; shows: string }> = [
  { name: 'chats', path: (t) => `/chats`, action: 'admin.user.chats.read', resourceType: 'chats', ids: (t) => [t.user.id], shows: 'title' },
  { name: 'messages', path: (t) => `/chats/${t.chatId}/messages`, action: 'admin.user.messages.read', resourceType: 'chat_messages', ids: (t) => [t.user.id, t.chatId], shows: 'message' },
  { name: 'files', path: () => '/files', action: 'admin.user.files.read', resourceType: 'files', ids: (t) => [t.user.id], shows: 'notes.txt' },
  { name: 'file text', path: (t) => `/files/${t.fileId}/text`, action: 'admin.user.file_text.read', resourceType: 'file_text', ids: (t) => [t.user.id, t.fileId], shows: 'file text' },
  { name: 'smart folders', path: () => '/smart-folders', action: 'admin.user.smart_folders.read', resourceType: 'smart_folders', ids: (t) => [t.user.id], shows: 'folder' },
  { name: 'assistants', path: () => '/assistants', action: 'admin.user.assistants.read', resourceType: 'assistants', ids: (t) => [t.user.id], shows: 'bot' },
  { name: 'transactions', path: () => '/transactions', action: 'admin.user.transactions.read', resourceType: 'transactions', ids: (t) => [t.user.id], shows: 'credits' },
];
const url = (t: Target, route: (typeof ROUTES)[number]) => `/api/v1/admin/users/${t.user.id}${route.path(t)}`;

describe('audit: staff reads of a user\'s chats, files, folders, assistants and ledger', () => {
  let support: TestStaff;
  let dpo: TestStaff;
  let target: Target;
  before(async () => {
    [support, dpo] = await Promise.all([createStaff('support'), createStaff('dpo')]);
    target = await userWithData('subject');
  });

  for (const route of ROUTES) {
    it(`${route.name}: records the access with its resource ids, then returns the data`, async () => {
      const before = (await trail(dpo, { userId: target.user.id, action: route.action })).length;
      const res = await api().get(url(target, route)).set(support.auth).set(reasonHeaders(`TICKET-${route.name}`));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(JSON.stringify(res.body)).to.contain(route.name === 'files' ? route.shows : `${target.secret} ${route.shows}`);
      const events = await trail(dpo, { userId: target.user.id, action: route.action });
      expect(events).to.have.length(before + 1);
      expect(events[0]).to.include({ outcome: 'allowed', resourceType: route.resourceType, reason: 'support_request', justification: `TICKET-${route.name}` });
      expect(events[0].resourceIds).to.deep.equal(route.ids(target));
      expect(events[0].actor).to.include({ staffId: support.id, role: 'support' });
      expect(events[0].requestId).to.equal(res.headers['x-request-id']);
    });
  }

  it('records which page of a listing was read', async () => {
    const first = await api().get(`/api/v1/admin/users/${target.user.id}/chats`).query({ limit: 1 }).set(dpo.auth).set(reasonHeaders()).expect(200);
    expect(first.body.items).to.have.length(1);
    const [event] = await trail(dpo, { userId: target.user.id, action: 'admin.user.chats.read', staffId: dpo.id });
    expect(event.detail).to.equal('page limit=1');
  });

  it('fails closed on every route: no audit write, no data', async () => {
    const db = privilegedDb(); // only the owner can rename the table away
    await db.raw('ALTER TABLE audit_events RENAME TO audit_events_unavailable');
    try {
      for (const route of ROUTES) {
        const res = await api().get(url(target, route)).set(support.auth).set(reasonHeaders());
        expect(res.status, route.name).to.be.at.least(500);
        expect(JSON.stringify(res.body), route.name).not.to.contain(target.secret);
      }
    } finally {
      await db.raw('ALTER TABLE audit_events_unavailable RENAME TO audit_events');
    }
  });

  it('holds the response until the audit event is committed', async () => {
    // A transaction holding an exclusive lock on the trail makes the event's INSERT wait: the
    // read must not answer until the lock goes and the event is in. (Only a privileged role may
    // take that lock: the runtime role has no UPDATE, DELETE or TRUNCATE on the trail.)
    const route = ROUTES[1];
    const trx = await privilegedDb().transaction();
    let answered = false;
    let pending: Promise<{ status: number; body: unknown }>;
    try {
      await trx.raw('LOCK TABLE audit_events IN EXCLUSIVE MODE');
      pending = api().get(url(target, route)).set(support.auth).set(reasonHeaders('TICKET-held')).then((res) => { answered = true; return res; });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(answered, 'answered while the audit insert was blocked').to.equal(false);
    } finally {
      await trx.commit();
    }
    const res = await pending!;
    expect(res.status).to.equal(200);
    expect(JSON.stringify(res.body)).to.contain(target.secret);
    const [event] = await trail(dpo, { userId: target.user.id, action: route.action });
    expect(event.justification).to.equal('TICKET-held');
  });

  it('another user\'s chat or file is 404 under this user, and the attempt stays recorded', async () => {
    const other = await userWithData('other');
    for (const [path, action, id] of [
      [`/chats/${other.chatId}/messages`, 'admin.user.messages.read', other.chatId],
      [`/files/${other.fileId}/text`, 'admin.user.file_text.read', other.fileId],
    ] as const) {
      const res = await api().get(`/api/v1/admin/users/${target.user.id}${path}`).set(support.auth).set(reasonHeaders('TICKET-cross'));
      expect(res.status, path).to.equal(404);
      expect(JSON.stringify(res.body)).not.to.contain(other.secret);
      const events = (await trail(dpo, { userId: target.user.id, action })).filter((e) => e.justification === 'TICKET-cross');
      expect(events.map((e) => e.outcome), path).to.deep.equal(['failed', 'allowed']);
      expect(events[1].resourceIds).to.deep.equal([target.user.id, id]);
      expect(events[0].detail).to.match(/^404 /);
    }
  });

  it('an unknown user is 404 (recorded), not an empty list', async () => {
    const ghost = '00000000-0000-4000-8000-0000000000aa';
    const res = await api().get(`/api/v1/admin/users/${ghost}/chats`).set(support.auth).set(reasonHeaders());
    expect(res.status).to.equal(404);
    expect((await trail(dpo, { userId: ghost })).map((e) => e.outcome)).to.deep.equal(['failed', 'allowed']);
  });

  it('refuses a wrong role or a missing reason, reads nothing, and records the denial with the resource ids', async () => {
    const security = await createStaff('security');
    const messages = url(target, ROUTES[1]);
    const wrongRole = await api().get(messages).set(security.auth).set(reasonHeaders());
    expect(wrongRole.status).to.equal(403);
    const noReason = await api().get(messages).set(support.auth).set({ 'X-Access-Justification': 'TICKET-9' });
    expect(noReason.status).to.equal(400);
    for (const res of [wrongRole, noReason]) expect(JSON.stringify(res.body)).not.to.contain(target.secret);
    const denied = await trail(dpo, { userId: target.user.id, action: 'admin.user.messages.read', outcome: 'denied' });
    expect(denied.map((e) => [e.actor.role, e.detail])).to.deep.equal([['support', 'denied: invalid_request'], ['security', 'denied: role']]);
    expect(denied[1].resourceIds).to.deep.equal([target.user.id, target.chatId]);
  });

  it('shows the reads in the user\'s own access log', async () => {
    const log = await api().get('/api/v1/me/access-log').query({ limit: 100 }).set(target.user.auth).expect(200);
    const actions = new Set(log.body.items.map((e: { action: string }) => e.action));
    for (const route of ROUTES) expect(actions.has(route.action), route.action).to.equal(true);
  });
});

describe('audit: staff lock and unlock an account (recorded change)', () => {
  let admin: TestStaff;
  let dpo: TestStaff;
  let user: TestUser;
  before(async () => {
    [admin, dpo] = await Promise.all([createStaff('admin'), createStaff('dpo')]);
    user = await createUser('lockable');
  });

  it('locking ends the user\'s sessions and refuses their login; unlocking lets them in again', async () => {
    await api().get('/api/v1/me').set(user.auth).expect(200);
    const lock = await api().post(`/api/v1/admin/users/${user.id}/lock`).set(admin.auth).set({ ...reasonHeaders('ABUSE-7'), 'X-Access-Reason': 'abuse_investigation' });
    expect(lock.status, JSON.stringify(lock.body)).to.equal(200);
    expect(lock.body).to.deep.equal({ id: user.id, status: 'locked', revokedSessions: 1 });
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(401);
    const login = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    expect(login.status).to.equal(403);
    expect(login.body.token).to.equal(undefined);

    const unlock = await api().post(`/api/v1/admin/users/${user.id}/unlock`).set(admin.auth).set(reasonHeaders('ABUSE-7 resolved'));
    expect(unlock.body).to.deep.equal({ id: user.id, status: 'active', revokedSessions: 0 });
    expect((await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).to.equal(200);

    const events = await trail(dpo, { userId: user.id });
    expect(events.map((e) => [e.action, e.outcome, e.reason, e.justification])).to.deep.equal([
      ['admin.user.unlock', 'allowed', 'support_request', 'ABUSE-7 resolved'],
      ['admin.user.lock', 'allowed', 'abuse_investigation', 'ABUSE-7'],
    ]);
    expect(events[1]).to.include({ resourceType: 'account' });
    expect(events[1].actor).to.include({ staffId: admin.id, role: 'admin' });
  });

  it('support and dpo may not lock (403, recorded as denied)', async () => {
    const support = await createStaff('support');
    const victim = await createUser('not-locked');
    for (const staff of [support, dpo]) {
      const res = await api().post(`/api/v1/admin/users/${victim.id}/lock`).set(staff.auth).set(reasonHeaders());
      expect(res.status, staff.role).to.equal(403);
    }
    await api().get('/api/v1/me').set(victim.auth).expect(200);
    const events = await trail(dpo, { userId: victim.id, action: 'admin.user.lock' });
    expect(events.map((e) => [e.outcome, e.actor.role])).to.deep.equal([['denied', 'dpo'], ['denied', 'support']]);
  });

  it('leaves an account pending deletion alone (409, recorded as failed)', async () => {
    const leaving = await createUser('leaving');
    await testContainer().platform.db('users').where({ id: leaving.id }).update({ status: 'pending_deletion' });
    const res = await api().post(`/api/v1/admin/users/${leaving.id}/lock`).set(admin.auth).set(reasonHeaders());
    expect(res.status).to.equal(409);
    const row = await testContainer().platform.db('users').where({ id: leaving.id }).first('status');
    expect(row.status).to.equal('pending_deletion');
    expect((await trail(dpo, { userId: leaving.id })).map((e) => e.outcome)).to.deep.equal(['failed', 'allowed']);
  });
});
