import { expect } from 'chai';
import { api } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { newChat, say } from './support.js';

describe('chat: chats and messages', () => {
  let user: TestUser;
  before(async () => { user = await createUser('chatter'); });

  it('creates, reads, renames and deletes a chat', async () => {
    const chat = await newChat(user, 'Holiday plans');
    expect(chat).to.include({ title: 'Holiday plans', messageCount: 0 });

    const read = await api().get(`/api/v1/chats/${chat.id}`).set(user.auth);
    expect(read.status).to.equal(200);
    expect(read.body.title).to.equal('Holiday plans');

    const renamed = await api().patch(`/api/v1/chats/${chat.id}`).set(user.auth).send({ title: 'Lisbon, October' });
    expect(renamed.status, JSON.stringify(renamed.body)).to.equal(200);
    expect(renamed.body.title).to.equal('Lisbon, October');

    await say(user, chat.id, 'hello');
    const deleted = await api().delete(`/api/v1/chats/${chat.id}`).set(user.auth);
    expect(deleted.status).to.equal(204);
    expect((await api().get(`/api/v1/chats/${chat.id}`).set(user.auth)).status).to.equal(404);
    expect((await api().get(`/api/v1/chats/${chat.id}/messages`).set(user.auth)).status).to.equal(404);
  });

  it('rejects an empty title with a problem naming the field', async () => {
    const res = await api().post('/api/v1/chats').set(user.auth).send({ title: '' });
    expect(res.status).to.equal(400);
    expect(res.headers['content-type']).to.match(/problem\+json/);
    expect(JSON.stringify(res.body.errors)).to.contain('title');
  });

  it('lists chats newest first, page by page with an opaque cursor', async () => {
    const pager = await createUser('pager');
    const titles = ['first', 'second', 'third', 'fourth', 'fifth'];
    for (const title of titles) await newChat(pager, title);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 10; guard += 1) {
      const res = await api().get('/api/v1/chats').query({ limit: 2, ...(cursor ? { cursor } : {}) }).set(pager.auth);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      seen.push(...res.body.items.map((c: { title: string }) => c.title));
      cursor = res.body.nextCursor ?? undefined;
      if (!cursor) break;
    }
    expect(seen).to.deep.equal([...titles].reverse());
  });

  it('appends user and assistant messages and pages through them oldest first', async () => {
    const chat = await newChat(user, 'Paging');
    for (let i = 0; i < 7; i += 1) await say(user, chat.id, `message ${i}`, i % 2 ? 'assistant' : 'user');
    const reply = await api().post(`/api/v1/chats/${chat.id}/messages`).set(user.auth)
      .send({ role: 'assistant', content: 'with usage', model: 'gpt-4o-mini', promptTokens: 12, completionTokens: 34 });
    expect(reply.status).to.equal(201);
    expect(reply.body).to.include({ model: 'gpt-4o-mini', promptTokens: 12, completionTokens: 34, role: 'assistant' });

    const first = await api().get(`/api/v1/chats/${chat.id}/messages`).query({ limit: 5 }).set(user.auth);
    expect(first.status).to.equal(200);
    expect(first.body.items.map((m: { content: string }) => m.content)).to.deep.equal([0, 1, 2, 3, 4].map((i) => `message ${i}`));
    expect(first.body.nextCursor).to.be.a('string');
    const second = await api().get(`/api/v1/chats/${chat.id}/messages`).query({ limit: 5, cursor: first.body.nextCursor }).set(user.auth);
    expect(second.body.items.map((m: { content: string }) => m.content)).to.deep.equal(['message 5', 'message 6', 'with usage']);
    expect(second.body.nextCursor).to.equal(null);

    const chatNow = await api().get(`/api/v1/chats/${chat.id}`).set(user.auth);
    expect(chatNow.body.messageCount).to.equal(8);
  });

  it('answers a forged cursor with 400, not someone else’s rows', async () => {
    const chat = await newChat(user, 'Cursor');
    const res = await api().get(`/api/v1/chats/${chat.id}/messages`).query({ cursor: 'not-a-cursor' }).set(user.auth);
    expect(res.status).to.equal(400);
    expect(res.body.detail).to.match(/cursor/);
  });

  it('rejects a message with an unknown role', async () => {
    const chat = await newChat(user, 'Roles');
    const res = await api().post(`/api/v1/chats/${chat.id}/messages`).set(user.auth).send({ role: 'system', content: 'x' });
    expect(res.status).to.equal(400);
  });

  it('exports one chat as JSON and as Markdown', async () => {
    const chat = await newChat(user, 'Export me');
    await say(user, chat.id, 'What is 2+2?');
    await say(user, chat.id, 'It is 4.', 'assistant');

    const json = await api().get(`/api/v1/chats/${chat.id}/export`).query({ format: 'json' }).set(user.auth).buffer(true)
      .parse((res, done) => { let s = ''; res.on('data', (c: Buffer) => { s += c; }); res.on('end', () => done(null, s)); });
    expect(json.status).to.equal(200);
    expect(json.headers['content-disposition']).to.match(/attachment; filename="chat-.*\.json"/);
    const doc = JSON.parse(json.body as unknown as string);
    expect(doc.format).to.equal('custos.chat-export.v1');
    expect(doc.chat.title).to.equal('Export me');
    expect(doc.messages.map((m: { content: string }) => m.content)).to.deep.equal(['What is 2+2?', 'It is 4.']);

    const md = await api().get(`/api/v1/chats/${chat.id}/export`).query({ format: 'markdown' }).set(user.auth);
    expect(md.status).to.equal(200);
    expect(md.headers['content-type']).to.match(/text\/markdown/);
    expect(md.text).to.match(/^# Export me\n/);
    expect(md.text).to.contain('## User');
    expect(md.text).to.contain('What is 2+2?');
    expect(md.text).to.contain('It is 4.');
  });

  it('requires a session on every chat route', async () => {
    expect((await api().get('/api/v1/chats')).status).to.equal(401);
    expect((await api().post('/api/v1/chats').send({ title: 'x' })).status).to.equal(401);
  });
});
