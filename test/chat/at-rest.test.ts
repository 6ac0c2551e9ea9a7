// Encryption at rest, checked from the outside: a canary string typed into a message, a chat
// title, assistant instructions, a folder name and an uploaded file's text must not appear in any
// column of any table (text read as text, bytea searched for the canary's UTF-8 bytes), nor in a
// plain-text pg_dump of the database, nor in any file under the artifact storage. Each check is
// paired with a positive control, so a scan that cannot see anything fails instead of passing.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { makeDocx, makePdf } from './fixtures.js';
import { newChat, say, uploadOk } from './support.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);

function artifactFiles(root: string): string[] {
  let names: string[];
  try { names = readdirSync(root); } catch { return []; }
  return names.flatMap((n) => (statSync(join(root, n)).isDirectory() ? artifactFiles(join(root, n)) : [join(root, n)]));
}

/** Every (schema, table, column) whose values could hold the canary, with a count of hits. */
async function tablesContaining(needle: string): Promise<string[]> {
  const { db } = testContainer().platform;
  const columns: Array<{ table_schema: string; table_name: string; column_name: string; data_type: string }> = (await db.raw(`
    SELECT c.table_schema, c.table_name, c.column_name, c.data_type
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
     WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
       AND c.data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')`)).rows;
  expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).to.include.members(['messages.content_enc', 'chats.title_enc', 'files.text_enc']);
  const hits: string[] = [];
  for (const c of columns) {
    const column = `"${c.column_name}"`;
    const from = `"${c.table_schema}"."${c.table_name}"`;
    const predicate = c.data_type === 'bytea'
      ? `position(convert_to(?, 'UTF8') IN ${column}) > 0`
      : `${column}::text LIKE '%' || ? || '%'`;
    const { rows } = await db.raw(`SELECT count(*)::int AS n FROM ${from} WHERE ${predicate}`, [needle]);
    if (rows[0].n > 0) hits.push(`${c.table_schema}.${c.table_name}.${c.column_name}`);
  }
  return hits;
}

describe('chat: nothing readable at rest (canary)', () => {
  const canary = `CANARY-${randomBytes(8).toString('hex')}`;
  let user: TestUser;
  let fileIds: string[];

  before(async function () {
    this.timeout(60_000);
    user = await createUser('canary');
    const chat = await newChat(user, `Title ${canary}`);
    await say(user, chat.id, `My secret is ${canary}, keep it`);
    await say(user, chat.id, `Noted: ${canary}`, 'assistant');
    const assistant = await api().post('/api/v1/assistants').set(user.auth).send({ name: `Bot ${canary}`, instructions: `Always mention ${canary}`, defaultModel: 'm' });
    expect(assistant.status).to.equal(201);
    const folder = await api().post('/api/v1/smart-folders').set(user.auth).send({ name: `Folder ${canary}` });
    expect(folder.status).to.equal(201);
    fileIds = [
      (await uploadOk(user, `${canary}.txt`, Buffer.from(`plain text file with ${canary}`))).id,
      (await uploadOk(user, 'doc.pdf', await makePdf([`pdf says ${canary}`]))).id,
      (await uploadOk(user, 'doc.docx', await makeDocx([`docx says ${canary}`]))).id,
    ];
    await testContainer().chat.recordTransaction(user.id, { kind: 'purchase', amountCents: 100, currency: 'EUR', description: `bought ${canary}` });
  });

  it('is readable back through the API (positive control)', async () => {
    for (const fileId of fileIds) {
      expect((await api().get(`/api/v1/files/${fileId}/text`).set(user.auth)).body.text).to.contain(canary);
    }
    const chats = await api().get('/api/v1/chats').set(user.auth);
    expect(chats.body.items[0].title).to.contain(canary);
  });

  it('appears in no column of any table', async function () {
    this.timeout(60_000);
    // Control: the scan finds a value we know is stored in clear (the user's email).
    expect(await tablesContaining(user.email)).to.include('public.users.email');
    expect(await tablesContaining(canary)).to.deep.equal([]);
  });

  it('appears nowhere in a pg_dump of the database, not even hex-encoded', async function () {
    requireTool(this, 'pg_dump');
    this.timeout(60_000);
    const { stdout } = await run('pg_dump', ['--no-owner', '--dbname', testContainer().platform.config.databaseUrl], { maxBuffer: 512 * 1024 * 1024 });
    expect(stdout).to.contain(user.email); // control: the dump holds the data
    expect(stdout).to.contain('content_enc');
    expect(stdout).not.to.contain(canary);
    expect(stdout.toLowerCase()).not.to.contain(Buffer.from(canary).toString('hex'));
    expect(stdout).not.to.contain(Buffer.from(canary).toString('base64').slice(0, 16));
  });

  it('appears in no file under the artifact storage', () => {
    const files = artifactFiles(testContainer().platform.config.artifactDir).filter((f) => f.includes(user.id));
    expect(files).to.have.length(3); // control: the originals are there
    for (const file of files) {
      const bytes = readFileSync(file);
      expect(bytes.includes(canary), file).to.equal(false);
      expect(bytes.includes('%PDF'), `${file} is not stored in clear`).to.equal(false);
      expect(file).not.to.contain(canary); // not in the path either (the name is encrypted in the row)
    }
  });
});
