import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { newChat, say, uploadOk } from './support.js';

const run = promisify(execFile);
/** The real `custos` command against the test database (the environment comes from test/setup.ts). */
const custos = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: process.env, timeout: 60_000 });

describe('chat: smart folders, assistants, transactions', () => {
  let user: TestUser;
  before(async () => { user = await createUser('librarian'); });

  it('creates a smart folder, adds and removes a chat and a file, renames and deletes it', async () => {
    const chat = await newChat(user, 'Foldered chat');
    const file = await uploadOk(user, 'n.txt', Buffer.from('folder me'));
    const created = await api().post('/api/v1/smart-folders').set(user.auth).send({ name: 'Work' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const folderId = created.body.id;

    const withChat = await api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ chatId: chat.id });
    expect(withChat.status, JSON.stringify(withChat.body)).to.equal(200);
    const again = await api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ chatId: chat.id });
    expect(again.body.chatIds).to.deep.equal([chat.id]);
    const withFile = await api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ fileId: file.id });
    expect(withFile.body).to.deep.include({ chatIds: [chat.id], fileIds: [file.id] });

    const both = await api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ chatId: chat.id, fileId: file.id });
    expect(both.status).to.equal(400);

    const renamed = await api().patch(`/api/v1/smart-folders/${folderId}`).set(user.auth).send({ name: 'Work 2026' });
    expect(renamed.body.name).to.equal('Work 2026');
    const list = await api().get('/api/v1/smart-folders').set(user.auth);
    expect(list.body.items.map((f: { name: string }) => f.name)).to.include('Work 2026');

    expect((await api().delete(`/api/v1/smart-folders/${folderId}/files/${file.id}`).set(user.auth)).status).to.equal(204);
    expect((await api().delete(`/api/v1/smart-folders/${folderId}/files/${file.id}`).set(user.auth)).status).to.equal(404);
    // Deleting the chat takes it out of the folder too.
    expect((await api().delete(`/api/v1/chats/${chat.id}`).set(user.auth)).status).to.equal(204);
    const after = await api().get(`/api/v1/smart-folders/${folderId}`).set(user.auth);
    expect(after.body).to.deep.include({ chatIds: [], fileIds: [] });

    expect((await api().delete(`/api/v1/smart-folders/${folderId}`).set(user.auth)).status).to.equal(204);
    expect((await api().get(`/api/v1/smart-folders/${folderId}`).set(user.auth)).status).to.equal(404);
    expect((await api().get(`/api/v1/files/${file.id}`).set(user.auth)).status, 'the file stays').to.equal(200);
  });

  it('creates, reads, updates and deletes an assistant', async () => {
    const created = await api().post('/api/v1/assistants').set(user.auth)
      .send({ name: 'Editor', instructions: 'Fix grammar, keep the tone.', defaultModel: 'gpt-4o-mini' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    const id = created.body.id;
    expect((await api().get(`/api/v1/assistants/${id}`).set(user.auth)).body.instructions).to.equal('Fix grammar, keep the tone.');
    const updated = await api().patch(`/api/v1/assistants/${id}`).set(user.auth).send({ instructions: 'Be terse.', defaultModel: 'claude-3-5-haiku' });
    expect(updated.status).to.equal(200);
    expect(updated.body).to.include({ name: 'Editor', instructions: 'Be terse.', defaultModel: 'claude-3-5-haiku' });
    expect((await api().patch(`/api/v1/assistants/${id}`).set(user.auth).send({})).status).to.equal(400);
    const list = await api().get('/api/v1/assistants').set(user.auth);
    expect(list.body.items.map((a: { id: string }) => a.id)).to.include(id);
    expect((await api().delete(`/api/v1/assistants/${id}`).set(user.auth)).status).to.equal(204);
    expect((await api().get(`/api/v1/assistants/${id}`).set(user.auth)).status).to.equal(404);
  });

  it('shows the ledger written by the service and by `custos credits add`, with signed amounts and a balance', async function () {
    this.timeout(90_000);
    const buyer = await createUser('buyer');
    await testContainer().chat.recordTransaction(buyer.id, { kind: 'usage', amountCents: 150, currency: 'EUR', description: 'Relay usage' });
    const { stdout } = await custos('credits', 'add', '--email', buyer.email, '--amount-cents', '2000', '--description', 'Starter pack');
    expect(stdout).to.match(/recorded purchase .*\+2000 EUR cents .* balance 1850 EUR cents/);
    await testContainer().chat.recordTransaction(buyer.id, { kind: 'refund', amountCents: 150, currency: 'EUR', description: 'Refund' });

    const res = await api().get('/api/v1/me/transactions').set(buyer.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.items.map((t: { kind: string; amountCents: number; description: string }) => [t.kind, t.amountCents, t.description]))
      .to.deep.equal([['refund', 150, 'Refund'], ['purchase', 2000, 'Starter pack'], ['usage', -150, 'Relay usage']]);
    expect(res.body.balances).to.deep.equal([{ currency: 'EUR', balanceCents: 2000 }]);
  });

  it('refuses `custos credits add` for an unknown email or a bad amount, with a message and exit code 1', async function () {
    this.timeout(90_000);
    const unknown = await custos('credits', 'add', '--email', 'nobody@example.test', '--amount-cents', '100').then(() => null, (e) => e);
    expect(unknown?.code).to.equal(1);
    expect(unknown?.stderr).to.contain('no user with email nobody@example.test');
    const negative = await custos('credits', 'add', '--email', user.email, '--amount-cents', '-5').then(() => null, (e) => e);
    expect(negative?.code).to.equal(1);
    expect(negative?.stderr).to.contain('--amount-cents must be a positive whole number');
  });

  it('offers no way for a user to write the ledger', async () => {
    const res = await api().post('/api/v1/me/transactions').set(user.auth).send({ kind: 'purchase', amountCents: 100000, currency: 'EUR', description: 'free money' });
    expect(res.status).to.equal(405);
  });

  it('seeds the demo user once: chats with messages, a file, a folder, an assistant, transactions', async () => {
    const demo = await createUser('demo');
    const seed = testContainer().modules.find((m) => m.name === 'chat')!.seed!;
    await seed({ userId: demo.id, userEmail: demo.email });
    await seed({ userId: demo.id, userEmail: demo.email });
    const chats = await api().get('/api/v1/chats').set(demo.auth);
    expect(chats.body.items).to.have.length(3);
    expect(chats.body.items.every((c: { messageCount: number }) => c.messageCount > 0)).to.equal(true);
    expect((await api().get('/api/v1/files').set(demo.auth)).body.items).to.have.length(1);
    expect((await api().get('/api/v1/smart-folders').set(demo.auth)).body.items[0]).to.include({ name: 'Work' });
    expect((await api().get('/api/v1/assistants').set(demo.auth)).body.items).to.have.length(1);
    const ledger = await api().get('/api/v1/me/transactions').set(demo.auth);
    expect(ledger.body.items).to.have.length(3);
    expect(ledger.body.balances).to.deep.equal([{ currency: 'EUR', balanceCents: 2000 }]);
  });

  it('staff tools can read a user’s data through the service, keyed by user id', async () => {
    const subject = await createUser('subject');
    const chat = await newChat(subject, 'Support case');
    await say(subject, chat.id, 'My export failed');
    const { chat: service } = testContainer();
    const chats = await service.listChats(subject.id, { limit: 10 });
    expect(chats.items.map((c) => c.title)).to.deep.equal(['Support case']);
    const messages = await service.listMessages(subject.id, chat.id, { limit: 10 });
    expect(messages.items.map((m) => m.content)).to.deep.equal(['My export failed']);
    // Keyed by the subject: another user's id finds nothing.
    const other = await createUser('other');
    let status = 0;
    await service.listMessages(other.id, chat.id, { limit: 10 }).catch((e) => { status = e.status; });
    expect(status).to.equal(404);
  });
});
