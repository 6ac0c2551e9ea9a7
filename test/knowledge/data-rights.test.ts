// The knowledge base and the data-rights promises: chunk text and vectors are unreadable at rest
// (a canary typed into a file is in no column, no pg_dump, no Redis key or job payload), the
// export carries the chunks' text, account deletion removes every row, and a staff support read
// goes through the audited path (reason recorded before anything is returned).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createStaff, createUser, type TestStaff, type TestUser } from '../support/accounts.js';
import { redisValues } from '../support/canary.js';
import { privilegedDb } from '../support/db.js';
import { expectProblem } from '../support/problems.js';
import { requireTool } from '../support/tools.js';
import { reasonHeaders, trail } from '../audit/helpers.js';
import { decryptWithPassphrase, download, readZip, waitForExport } from '../privacy/support.js';
import { addFile, CORPUS, newFolder, search, startKnowledge, uploadText, waitFor, waitReady, type KnowledgeHarness } from './support.js';

const run = promisify(execFile);
const KNOWLEDGE_TABLES = ['knowledge_sources', 'knowledge_segments', 'knowledge_chunks'];

/** Every (schema.table.column) of a text-like or bytea column holding the needle. */
async function columnsContaining(needle: string): Promise<string[]> {
  const db = privilegedDb();
  const { rows: columns } = await db.raw(`SELECT c.table_schema, c.table_name, c.column_name, c.data_type FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
    WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.data_type IN ('text', 'character varying', 'bytea', 'json', 'jsonb', 'ARRAY')`);
  expect(columns.map((c: { table_name: string; column_name: string }) => `${c.table_name}.${c.column_name}`)).to.include.members(['knowledge_chunks.text_enc', 'knowledge_segments.vectors_enc']);
  const hits: string[] = [];
  for (const c of columns as Array<{ table_schema: string; table_name: string; column_name: string; data_type: string }>) {
    const predicate = c.data_type === 'bytea' ? `position(convert_to(?, 'UTF8') IN "${c.column_name}") > 0` : `"${c.column_name}"::text LIKE '%' || ? || '%'`;
    const { rows } = await db.raw(`SELECT count(*)::int AS n FROM "${c.table_schema}"."${c.table_name}" WHERE ${predicate}`, [needle]);
    if (rows[0].n > 0) hits.push(`${c.table_schema}.${c.table_name}.${c.column_name}`);
  }
  return hits;
}

/** Every value under the harness's Redis prefix, whatever its type, as one string. */
async function redisDump(h: KnowledgeHarness): Promise<string> {
  const values = await redisValues(h.container.platform.redis, `${h.prefix}:*`);
  return [...values].map(([key, value]) => `${key}=${value}`).join('\n');
}

const userRows = async (userId: string) => {
  const out: Record<string, number> = {};
  for (const table of KNOWLEDGE_TABLES) out[table] = Number((await privilegedDb()(table).where({ user_id: userId }).count<Array<{ n: string }>>('* as n'))[0].n);
  return out;
};

describe('knowledge: data rights, encryption at rest and staff access', function () {
  this.timeout(120_000);
  const canary = `CANARY-${randomBytes(8).toString('hex')}`;
  let h: KnowledgeHarness;
  let user: TestUser;
  let folderId: string;
  let fileId: string;
  let support: TestStaff;
  let dpo: TestStaff;

  before(async () => {
    h = await startKnowledge();
    [support, dpo] = await Promise.all([createStaff('support'), createStaff('dpo')]);
    user = await createUser('rights');
    folderId = await newFolder(h, user, 'Private');
    fileId = await uploadText(h, user, 'diary.txt', `${CORPUS.baking} My bank password hint is ${canary}, never share it.`);
    await addFile(h, user, folderId, fileId);
    await waitReady(h, user, folderId);
  });
  after(async () => { await h?.close(); });

  it('the canary is searchable by its owner (positive control)', async () => {
    const [best] = await search(h, user, folderId, `bank password hint ${canary}`, 1);
    expect(best.text).to.contain(canary);
    expect(best.fileId).to.equal(fileId);
  });

  it('appears in no column of any table, no pg_dump, and no Redis key or job payload', async function () {
    expect(await columnsContaining(user.email)).to.include('public.users.email'); // control: the scan sees stored values
    expect(await columnsContaining(canary)).to.deep.equal([]);

    const [source] = await privilegedDb()('knowledge_sources').where({ file_id: fileId });
    const redis = await redisDump(h);
    expect(redis).to.contain(source.id); // control: the job and its payload are there
    expect(redis).not.to.contain(canary);
    expect(redis).not.to.contain('password hint');

    requireTool(this, 'pg_dump');
    const { stdout } = await run('pg_dump', ['--no-owner', '--data-only', '--table', 'knowledge_*', '--dbname', process.env.DATABASE_URL!], { maxBuffer: 256 * 1024 * 1024 });
    expect(stdout).to.contain(source.id); // control
    expect(stdout).not.to.contain(canary);
    expect(stdout.toLowerCase()).not.to.contain(Buffer.from(canary).toString('hex'));
  });

  it('a support read names its reason first, returns the chunks, and is in the trail with user and folder ids', async () => {
    const url = `/api/v1/admin/users/${user.id}/smart-folders/${folderId}/knowledge`;
    expectProblem(await h.api().get(url).set(support.auth), 400); // no reason, nothing read
    const res = await h.api().get(url).query({ limit: 1 }).set(support.auth).set(reasonHeaders('TICKET-77 search returns nothing'));
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.files[0]).to.include({ fileId, state: 'ready' });
    expect(res.body.chunks.items).to.have.length(1);
    const all: string[] = [];
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page: { status: number; body: { chunks: { items: Array<{ text: string }>; nextCursor: string | null } } } = await h.api().get(url).query({ limit: 2, ...(cursor ? { cursor } : {}) }).set(support.auth).set(reasonHeaders());
      expect(page.status).to.equal(200);
      all.push(...page.body.chunks.items.map((c: { text: string }) => c.text));
      cursor = page.body.chunks.nextCursor;
    }
    expect(all.join(' ')).to.contain(canary);

    const events = await trail(dpo, { userId: user.id, action: 'admin.user.knowledge.read' });
    expect(events[events.length - 1]).to.include({ outcome: 'denied' }); // the request without a reason
    const first = events.find((e) => e.justification === 'TICKET-77 search returns nothing')!;
    expect(first).to.include({ outcome: 'allowed', resourceType: 'knowledge_chunks', reason: 'support_request', justification: 'TICKET-77 search returns nothing' });
    expect(first.resourceIds).to.deep.equal([user.id, folderId]);
    expect(first.actor).to.include({ staffId: support.id, role: 'support' });

    // Another user's folder: 404, and the attempt stays recorded.
    const other = await createUser('other');
    const otherFolder = await newFolder(h, other, 'Theirs');
    expectProblem(await h.api().get(`/api/v1/admin/users/${user.id}/smart-folders/${otherFolder}/knowledge`).set(support.auth).set(reasonHeaders()), 404);
    const failed = await trail(dpo, { userId: user.id, action: 'admin.user.knowledge.read', outcome: 'failed' });
    expect(failed[0].resourceIds).to.deep.equal([user.id, otherFolder]);
    // Users never reach it.
    expectProblem(await h.api().get(url).set(user.auth).set(reasonHeaders()), 401);
  });

  it('the export carries every chunk\'s text; account deletion removes every knowledge row', async function () {
    requireTool(this, 'unzip');
    const passphrase = 'knowledge export passphrase';
    const created = await h.api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    await waitForExport(user, created.body.id);
    const archive = readZip(await decryptWithPassphrase((await download(user, created.body.id)).body as Buffer, passphrase));
    const chunks = JSON.parse(archive.entry('data/knowledge/knowledge_chunks.json').toString('utf8')) as Array<Record<string, unknown>>;
    expect(chunks.length).to.be.greaterThan(0);
    expect(chunks.every((c) => c.folderId === folderId && c.fileId === fileId)).to.equal(true);
    expect(chunks.map((c) => c.text).join(' ')).to.contain(canary);
    const index = JSON.parse(archive.entry('data/knowledge/knowledge_index.json').toString('utf8'));
    expect(index[0]).to.include({ folderId, fileId, state: 'ready' });

    const before = await userRows(user.id);
    expect(Object.values(before).every((n) => n > 0), JSON.stringify(before)).to.equal(true);
    h.container.platform.config.privacy.deletionGraceDays = 0;
    const deletion = await h.api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
    expect(deletion.status, JSON.stringify(deletion.body)).to.equal(202);
    const done = await waitFor(async () => {
      const row = await privilegedDb()('privacy_requests').where({ user_id: user.id, type: 'deletion', state: 'completed' }).first();
      return row ?? undefined;
    }, 60_000, 200);
    expect(await userRows(user.id)).to.deep.equal({ knowledge_sources: 0, knowledge_segments: 0, knowledge_chunks: 0 });
    const receipt = JSON.parse(done.receipt);
    expect(receipt.deletedRows['knowledge_chunks.user_id']).to.equal(before.knowledge_chunks);
    expect(receipt.verification.tables).to.include({ 'knowledge_chunks.user_id': 0, 'knowledge_segments.user_id': 0, 'knowledge_sources.user_id': 0 });
  });
});
