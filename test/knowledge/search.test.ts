// Smart-folder search end to end: files uploaded and put in a folder over HTTP, indexed by the
// real worker through the fake provider's deterministic embeddings, then searched over HTTP. The
// corpus has known answers, so the ranking itself is checked, not just the shape.
import { expect } from 'chai';
import { createUser, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { addFile, CORPUS, newFolder, search, startKnowledge, uploadText, waitReady, type KnowledgeHarness } from './support.js';

describe('knowledge: smart-folder search', function () {
  this.timeout(60_000);
  let h: KnowledgeHarness;
  let user: TestUser;
  let folderId: string;
  const files: Record<keyof typeof CORPUS, string> = {} as never;

  before(async () => {
    h = await startKnowledge();
    user = await createUser('searcher');
    folderId = await newFolder(h, user, 'Company handbook');
    for (const [name, text] of Object.entries(CORPUS) as Array<[keyof typeof CORPUS, string]>) {
      files[name] = await uploadText(h, user, `${name}.txt`, text);
      await addFile(h, user, folderId, files[name]);
    }
    await waitReady(h, user, folderId);
  });
  after(async () => { await h?.close(); });

  const cases: Array<{ query: string; file: keyof typeof CORPUS; says: string }> = [
    { query: 'late fee for paying an invoice after the due date', file: 'invoices', says: 'late payment fee' },
    { query: 'which boots for a rocky mountain path', file: 'hiking', says: 'sturdy boots' },
    { query: 'how long to knead bread dough', file: 'baking', says: 'Knead the dough' },
    { query: 'storms over the summit, weather forecast', file: 'hiking', says: 'weather forecast' },
    { query: 'sourdough starter instead of yeast', file: 'baking', says: 'Sourdough' },
  ];
  for (const c of cases) {
    it(`"${c.query}" finds the ${c.file} passage first`, async () => {
      const items = await search(h, user, folderId, c.query, 3);
      expect(items).to.have.length(3);
      expect(items[0].fileId).to.equal(files[c.file]);
      expect(items[0].text).to.contain(c.says);
      expect(items[0].score).to.be.greaterThan(0.3);
      // Best first, and the best is clearly ahead of anything from the other files.
      for (let i = 1; i < items.length; i++) expect(items[i].score).to.be.at.most(items[i - 1].score);
      const otherFiles = items.filter((i) => i.fileId !== files[c.file]);
      for (const other of otherFiles) expect(other.score).to.be.lessThan(items[0].score);
    });
  }

  it('returns at most `limit` chunks (5 by default), each with its file and position', async () => {
    expect(await search(h, user, folderId, 'dough invoice trail', 2)).to.have.length(2);
    const items = await search(h, user, folderId, 'dough invoice trail');
    expect(items).to.have.length(5);
    for (const item of items) {
      expect(Object.values(files)).to.include(item.fileId);
      expect(item.chunkIndex).to.be.a('number').and.at.least(0);
    }
  });

  it('answers an empty list for a folder with nothing indexed, without calling the provider', async () => {
    const empty = await newFolder(h, user, 'Empty');
    const calls = h.fake.embeddingInputs.length;
    expect(await search(h, user, empty, 'anything')).to.deep.equal([]);
    expect(h.fake.embeddingInputs.length).to.equal(calls);
  });

  it("another user's folder is 404 for search and status, and says nothing about it", async () => {
    const stranger = await createUser('stranger');
    const res = await h.api().post(`/api/v1/smart-folders/${folderId}/search`).set(stranger.auth).send({ query: 'invoice' });
    expectProblem(res, 404);
    expectProblem(await h.api().get(`/api/v1/smart-folders/${folderId}/knowledge`).set(stranger.auth), 404);
  });

  it('refuses a bad request with what to fix', async () => {
    const url = `/api/v1/smart-folders/${folderId}/search`;
    expectProblem(await h.api().post(url).set(user.auth).send({}), 400);
    expectProblem(await h.api().post(url).set(user.auth).send({ query: '' }), 400);
    expectProblem(await h.api().post(url).set(user.auth).send({ query: 'x', limit: 51 }), 400);
    expectProblem(await h.api().post(url).set(user.auth).send({ query: 'x'.repeat(4001) }), 400);
    expectProblem(await h.api().post(url).send({ query: 'x' }), 401);
  });

  it('a provider failure is a 502 that does not echo the query', async () => {
    h.fake.embeddingPlan.push(500);
    const res = await h.api().post(`/api/v1/smart-folders/${folderId}/search`).set(user.auth).send({ query: 'secret query words' });
    const problem = expectProblem(res, 502);
    expect(JSON.stringify(problem)).not.to.contain('secret query');
  });
});
