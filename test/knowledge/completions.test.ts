// The knowledge base wired into chats: a completion in a chat that belongs to a smart folder
// takes its context from the folder's real search (indexed by the worker, embedded by the fake
// provider), sends the best chunk to the model and cites it in the stored reply.
import { expect } from 'chai';
import { createUser } from '../support/accounts.js';
import { addFile, CORPUS, newFolder, startKnowledge, uploadText, waitReady, type KnowledgeHarness } from './support.js';

describe('knowledge: context for completions in a smart folder', function () {
  this.timeout(60_000);
  let h: KnowledgeHarness;
  before(async () => { h = await startKnowledge(); });
  after(async () => { await h?.close(); });

  it('the reply is grounded in the folder search and cites the chunk', async () => {
    const user = await createUser('grounded');
    await h.container.chat.recordTransaction(user.id, { kind: 'purchase', amountCents: 10_000, currency: h.container.platform.config.relay.currency, description: 'test credit' });
    const folderId = await newFolder(h, user, 'Finance');
    const invoices = await uploadText(h, user, 'invoices.txt', CORPUS.invoices);
    await addFile(h, user, folderId, invoices);
    await addFile(h, user, folderId, await uploadText(h, user, 'hiking.txt', CORPUS.hiking));
    await waitReady(h, user, folderId);
    const chat = await h.api().post('/api/v1/chats').set(user.auth).send({ title: 'Ask' });
    await h.api().post(`/api/v1/chats/${chat.body.id}/messages`).set(user.auth).send({ role: 'user', content: 'What late payment fee applies to invoices paid after the due date?' }).expect(201);
    await h.api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ chatId: chat.body.id }).expect(200);

    const reply = await h.api().post(`/api/v1/chats/${chat.body.id}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    const system = (h.fake.bodies.filter((b) => Array.isArray(b.messages)).at(-1)!.messages as Array<{ role: string; content: string }>)[0];
    expect(system.role).to.equal('system');
    expect(system.content).to.contain('late payment fee');
    expect(reply.body.citations.length).to.be.greaterThan(0);
    expect(reply.body.citations[0].fileId).to.equal(invoices);
  });
});
