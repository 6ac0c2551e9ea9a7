// Smart-folder context in completions. The knowledge module (another branch) provides the search;
// until it is wired, this drives the completion service through its knowledge dependency with a
// small but real implementation of that interface: lexical scoring over the paragraphs of the
// folder's files, read through the chat service. What is checked is the completion side: the
// best chunks for the last user message reach the model as the system prompt, and the stored
// reply cites them (file id, chunk number, score) in its metadata; a chat outside any folder
// asks no search.
import { expect } from 'chai';
import { createUser, type TestUser } from '../support/accounts.js';
import type { Container } from '../../src/container.js';
import type { KnowledgeSearch } from '../../src/modules/assistant/assistant-types.js';
import { startRelay, type RelayHarness } from '../relay/support.js';
import { buyCredit, chatWith, messagesOf } from './support.js';

function lexicalKnowledge(chat: Container['chat'], asked: string[]): KnowledgeSearch {
  const words = (s: string) => s.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return {
    async search(userId, folderId, { query, limit }) {
      asked.push(folderId);
      const folder = await chat.getSmartFolder(userId, folderId);
      const terms = new Set(words(query).filter((w) => w.length > 3));
      const items: Array<{ fileId: string; chunkIndex: number; text: string; score: number }> = [];
      for (const fileId of folder.fileIds) {
        (await chat.getFileText(userId, fileId)).split(/\n\s*\n/).forEach((text, chunkIndex) => {
          const w = words(text);
          const score = w.filter((x) => terms.has(x)).length / Math.max(1, w.length);
          if (score > 0) items.push({ fileId, chunkIndex, text, score });
        });
      }
      return { items: items.sort((a, b) => b.score - a.score).slice(0, limit) };
    },
  };
}

describe('assistant: smart-folder context and citations', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let user: TestUser;
  before(async () => {
    h = await startRelay();
    user = await createUser('chat-ai-citations');
    await buyCredit(h, user);
  });
  after(async () => { await h.close(); });

  it('the best chunks go to the model as context, and the stored reply cites them', async () => {
    const api = h.relay.api;
    const notes = 'Bananas are yellow and curved.\n\nThe vault code is 4711, changed every vault audit.\n\nThe office opens at nine.';
    const file = await api().post('/api/v1/files').set(user.auth).attach('file', Buffer.from(notes), 'notes.txt');
    expect(file.status, JSON.stringify(file.body)).to.equal(201);
    const folder = await api().post('/api/v1/smart-folders').set(user.auth).send({ name: 'Office' });
    expect(folder.status, JSON.stringify(folder.body)).to.equal(201);
    const chatId = await chatWith(h, user, 'Which vault code do we use?');
    await api().post(`/api/v1/smart-folders/${folder.body.id}/members`).set(user.auth).send({ chatId }).expect(200);
    await api().post(`/api/v1/smart-folders/${folder.body.id}/members`).set(user.auth).send({ fileId: file.body.id }).expect(200);

    const asked: string[] = [];
    const completions = h.relay.container.assistant.completionsWith(lexicalKnowledge(h.relay.container.chat, asked));
    const reply = await completions.complete(user.id, chatId, { model: 'openai/gpt-4o-mini' });
    expect(asked).to.deep.equal([folder.body.id]);
    const system = (h.fake.bodies.at(-1)!.messages as Array<{ role: string; content: string }>)[0];
    expect(system.role).to.equal('system');
    expect(system.content).to.contain('[1] (file ').and.contain('The vault code is 4711');
    expect(system.content).not.to.contain('Bananas');
    expect(reply.completion.citations).to.have.length(1);
    expect(reply.completion.citations[0]).to.include({ fileId: file.body.id, chunkIndex: 1 });
    expect(reply.completion.citations[0].score).to.be.greaterThan(0);
    // Stored: the reply is a message of the chat, and its metadata keeps the citations.
    expect((await messagesOf(h, user, chatId)).at(-1)).to.include({ id: reply.message.id, role: 'assistant' });
    const row = await h.relay.container.platform.db('completions').where({ message_id: reply.message.id }).first();
    expect(row.citations).to.deep.equal(reply.completion.citations);

    const outside = await chatWith(h, user, 'Which vault code do we use?');
    const plain = await completions.complete(user.id, outside, { model: 'openai/gpt-4o-mini' });
    expect(asked).to.have.length(1);
    expect(plain.completion.citations).to.deep.equal([]);
    expect((h.fake.bodies.at(-1)!.messages as Array<{ role: string }>)[0].role).to.equal('user');
  });
});
