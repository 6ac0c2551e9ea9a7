// Indexing end to end: a file put in a smart folder is chunked and embedded by a real BullMQ
// worker, with its state and progress in PostgreSQL (visible through the API), retried after a
// provider failure and resumed at the last stored batch, failed for good after five attempts
// (re-adding the file retries), removed with the folder membership or the file, and backfilled
// for files that were in folders before any job existed.
import { expect } from 'chai';
import { createUser, type TestUser } from '../support/accounts.js';
import { privilegedDb } from '../support/db.js';
import { runCli } from '../support/cli.js';
import { addFile, CORPUS, newFolder, search, startKnowledge, status, uploadText, waitFor, waitReady, type KnowledgeHarness } from './support.js';
import { chunkText } from '../../src/modules/knowledge/knowledge-chunking.js';

const counts = async (fileId: string) => {
  const db = privilegedDb();
  const sources = await db('knowledge_sources').where({ file_id: fileId }).select('id');
  const ids = sources.map((s: { id: string }) => s.id);
  const n = async (table: string) => Number((await db(table).whereIn('source_id', ids).count<Array<{ n: string }>>('* as n'))[0].n);
  return { sources: ids.length, segments: ids.length ? await n('knowledge_segments') : 0, chunks: ids.length ? await n('knowledge_chunks') : 0 };
};

/** Long enough for several chunks of 200 characters, so several batches of 2. */
const LONG = `${CORPUS.baking}\n\n${CORPUS.hiking}\n\n${CORPUS.invoices}`;

describe('knowledge: indexing jobs', function () {
  this.timeout(90_000);
  let h: KnowledgeHarness;
  let user: TestUser;
  before(async () => {
    h = await startKnowledge();
    user = await createUser('indexer');
  });
  after(async () => { await h?.close(); });

  it('indexes a file added to a folder; progress and state are visible; the job carries the id only', async () => {
    const folderId = await newFolder(h, user);
    const fileId = await uploadText(h, user, 'handbook.txt', LONG);
    await addFile(h, user, folderId, fileId);
    const expected = chunkText(LONG, { maxChars: 200, overlapChars: 40 });
    expect(expected.length).to.be.greaterThan(2); // several batches of 2

    const ready = await waitReady(h, user, folderId);
    expect(ready.files).to.have.length(1);
    expect(ready.files[0]).to.include({ fileId, state: 'ready', chunksDone: expected.length, chunksTotal: expected.length, attempts: 1, lastError: null });
    expect(await counts(fileId)).to.deep.equal({ sources: 1, segments: Math.ceil(expected.length / 2), chunks: expected.length });
    // The provider saw exactly the chunks, in order, two per call.
    const sent = h.fake.embeddingInputs.filter((inputs) => expected.includes(inputs[0]));
    expect(sent.flat()).to.deep.equal(expected);
    // What the embeddings used is charged to the user (below a cent it waits in the sub-cent carry).
    const [carry] = await privilegedDb()('relay_charge_carry').where({ user_id: user.id });
    expect(Number(carry?.carry_microcents ?? 0), 'embedding usage charged').to.be.greaterThan(0);

    const [source] = await privilegedDb()('knowledge_sources').where({ file_id: fileId });
    const job = await h.container.platform.queues.queue('knowledge-index').getJob(source.id);
    expect(job?.data).to.deep.equal({ sourceId: source.id });
    expect(await job?.getState()).to.equal('completed');
  });

  it('the operator sees every state and the sources needing attention (custos knowledge status)', async () => {
    const { code, stdout } = await runCli(['knowledge', 'status']);
    expect(code, stdout).to.equal(0);
    expect(stdout).to.match(/ready\s+\d+/);
    expect(stdout).to.match(/chunks stored\s+\d+/);
  });

  it('retries a provider failure and resumes at the last stored batch, never re-embedding a stored chunk', async () => {
    const folderId = await newFolder(h, user);
    const text = `${LONG}\n\nOne more sentence about resuming work.`;
    const expected = chunkText(text, { maxChars: 200, overlapChars: 40 });
    const fileId = await uploadText(h, user, 'resume.txt', text);
    const before = h.fake.embeddingInputs.length;
    h.fake.embeddingPlan.push('ok', 503, 503); // batch 1 stored; batch 2 fails twice
    await addFile(h, user, folderId, fileId);
    const ready = await waitReady(h, user, folderId);
    expect(ready.files[0]).to.include({ state: 'ready', chunksDone: expected.length, attempts: 3 });
    const calls = h.fake.embeddingInputs.slice(before);
    expect(calls[0]).to.deep.equal(expected.slice(0, 2));
    expect(calls[1]).to.deep.equal(expected.slice(2, 4)); // failed
    expect(calls[2]).to.deep.equal(expected.slice(2, 4)); // failed again
    expect(calls[3]).to.deep.equal(expected.slice(2, 4)); // resumed: batch 1 was not sent again
    expect(calls.slice(3).flat()).to.deep.equal(expected.slice(2));
    expect(await counts(fileId)).to.include({ chunks: expected.length });
  });

  it('after five failed attempts the file is failed with the reason (no content); adding it again retries', async () => {
    const folderId = await newFolder(h, user);
    const fileId = await uploadText(h, user, 'invoices.txt', `${CORPUS.invoices} [[never-echoed]]`);
    h.fake.embeddingPlan.push(503, 503, 503, 503, 503);
    await addFile(h, user, folderId, fileId);
    const failed = await waitFor(async () => {
      const s = await status(h, user, folderId);
      return s.files[0]?.state === 'failed' ? s : undefined;
    });
    expect(failed.ready).to.equal(false);
    expect(failed.files[0]).to.include({ attempts: 5, chunksDone: 0, lastError: 'EmbeddingError (upstream_error 503)' });

    await addFile(h, user, folderId, fileId);
    const ready = await waitReady(h, user, folderId);
    expect(ready.files[0]).to.include({ state: 'ready', attempts: 1, lastError: null });
  });

  it('removes the chunks when the file leaves the folder, and when the file is deleted', async () => {
    const folderId = await newFolder(h, user);
    const kept = await uploadText(h, user, 'baking.txt', CORPUS.baking);
    const leaving = await uploadText(h, user, 'invoices.txt', CORPUS.invoices);
    await addFile(h, user, folderId, kept);
    await addFile(h, user, folderId, leaving);
    await waitReady(h, user, folderId);
    expect((await search(h, user, folderId, 'late payment fee invoice', 1))[0].fileId).to.equal(leaving);
    expect((await counts(leaving)).chunks).to.be.greaterThan(0);

    expect((await h.api().delete(`/api/v1/smart-folders/${folderId}/files/${leaving}`).set(user.auth)).status).to.equal(204);
    expect(await counts(leaving)).to.deep.equal({ sources: 0, segments: 0, chunks: 0 });
    const after = await search(h, user, folderId, 'late payment fee invoice', 5);
    expect(after.map((i) => i.fileId)).not.to.include(leaving);
    expect((await status(h, user, folderId)).files.map((f) => f.fileId)).to.deep.equal([kept]);

    expect((await h.api().delete(`/api/v1/files/${kept}`).set(user.auth)).status).to.equal(204);
    expect(await counts(kept)).to.deep.equal({ sources: 0, segments: 0, chunks: 0 });
    expect(await search(h, user, folderId, 'bread dough')).to.deep.equal([]);
  });

  it('backfills files that were in folders before they had an index', async () => {
    const folderId = await newFolder(h, user);
    const fileId = await uploadText(h, user, 'hiking.txt', CORPUS.hiking);
    await addFile(h, user, folderId, fileId);
    await waitReady(h, user, folderId);
    // As if the file had joined the folder before the knowledge base existed.
    await privilegedDb()('knowledge_sources').where({ file_id: fileId }).delete();
    expect((await status(h, user, folderId)).files[0]).to.include({ fileId, state: 'pending' });
    expect(await search(h, user, folderId, 'mountain trail')).to.deep.equal([]);

    expect(await h.container.knowledge.backfill()).to.be.at.least(1);
    await waitReady(h, user, folderId);
    expect((await search(h, user, folderId, 'mountain trail', 1))[0].fileId).to.equal(fileId);
    expect(await h.container.knowledge.backfill()).to.equal(0); // repeatable
  });

  it('the reconciler re-creates a job Redis lost, and the job continues where it was', async () => {
    const folderId = await newFolder(h, user);
    const fileId = await uploadText(h, user, 'baking.txt', CORPUS.baking);
    await h.workers.close(); // no worker: the job waits
    await addFile(h, user, folderId, fileId);
    const [source] = await privilegedDb()('knowledge_sources').where({ file_id: fileId });
    const queue = h.container.platform.queues.queue('knowledge-index');
    await (await queue.getJob(source.id))?.remove();
    expect(await queue.getJob(source.id)).to.equal(undefined);
    expect(await h.container.knowledge.reconcile()).to.be.at.least(1);
    expect(await (await queue.getJob(source.id))?.getState()).to.be.oneOf(['waiting', 'delayed', 'prioritized']);
    const { startWorkers } = await import('../../src/roles.js');
    h.workers = startWorkers(h.container);
    await waitReady(h, user, folderId);
  });
});
