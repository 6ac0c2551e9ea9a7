// The chat module's contract with the privacy module: collections of decrypted rows read in
// batches, the decrypted originals of uploaded files, and erasure of what lives outside
// PostgreSQL. Also the FK graph the generic deletion walks: every table of this domain is keyed
// directly by user_id with an index.
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { api, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createUser, type TestUser } from '../support/accounts.js';
import type { PersonalDataProvider } from '../../src/platform/platform.js';
import { makeDocx } from './fixtures.js';
import { newChat, say, uploadOk } from './support.js';

const provider = (): PersonalDataProvider => testContainer().modules.find((m) => m.name === 'chat')!.personalData!;

async function collect(name: string, userId: string): Promise<Array<Record<string, unknown>>> {
  const collection = provider().collections.find((c) => c.name === name);
  expect(collection, name).to.not.equal(undefined);
  const rows: Array<Record<string, unknown>> = [];
  for await (const row of collection!.rows(userId)) rows.push(row);
  return rows;
}

describe('chat: personal data for exports and deletion', () => {
  let user: TestUser;
  let chatId: string;
  let docx: Buffer;

  before(async function () {
    this.timeout(120_000);
    user = await createUser('exporter');
    chatId = (await newChat(user, 'Long chat')).id;
    // More messages than one batch (500), written through the service to keep the test quick.
    for (let i = 0; i < 1203; i += 1) {
      await testContainer().chat.appendMessage(user.id, chatId, { role: i % 2 ? 'assistant' : 'user', content: `line ${i}` });
    }
    docx = await makeDocx(['exported original']);
    const file = await uploadOk(user, 'plan.docx', docx);
    const folder = (await api().post('/api/v1/smart-folders').set(user.auth).send({ name: 'Plans' })).body;
    await api().post(`/api/v1/smart-folders/${folder.id}/members`).set(user.auth).send({ fileId: file.id });
    await api().post('/api/v1/assistants').set(user.auth).send({ name: 'Coach', instructions: 'Be kind', defaultModel: 'm' });
    await testContainer().chat.recordTransaction(user.id, { kind: 'purchase', amountCents: 999, currency: 'USD', description: 'Pack' });
    const other = await createUser('not-exported');
    await say(other, (await newChat(other, 'Other chat')).id, 'not yours');
  });

  it('yields every message across batches, decrypted, in order, and nobody else’s', async function () {
    this.timeout(60_000);
    const messages = await collect('messages', user.id);
    expect(messages).to.have.length(1203);
    expect(messages[0]).to.include({ chatId, role: 'user', content: 'line 0' });
    expect(messages[1202]).to.include({ content: 'line 1202' });
    expect(messages.some((m) => m.content === 'not yours')).to.equal(false);
  });

  it('offers the messages pre-serialised across pages, byte for byte the JSON of its rows', async function () {
    this.timeout(60_000);
    const messages = provider().collections.find((c) => c.name === 'messages')!;
    const pages: Buffer[] = [];
    let rows = 0;
    for await (const page of messages.json!(user.id, new AbortController().signal)) { pages.push(Buffer.concat(page.chunks)); rows += page.rows; }
    expect(pages).to.have.length(2); // 1,000 + 203
    expect(rows).to.equal(1203);
    const expected = (await collect('messages', user.id)).map((m) => JSON.stringify(m)).join(',\n');
    expect(Buffer.concat(pages.flatMap((p, i) => (i ? [Buffer.from(',\n'), p] : [p]))).toString('utf8')).to.equal(expected);
  });

  it('offers the files pre-serialised, byte for byte the JSON of its rows (the extracted text written from its bytes)', async () => {
    const files = provider().collections.find((c) => c.name === 'files')!;
    const pages: Buffer[] = [];
    let rows = 0;
    for await (const page of files.json!(user.id, new AbortController().signal)) { pages.push(Buffer.concat(page.chunks)); rows += page.rows; }
    expect(rows).to.equal(1);
    const expected = (await collect('files', user.id)).map((f) => JSON.stringify(f)).join(',\n');
    expect(Buffer.concat(pages.flatMap((p, i) => (i ? [Buffer.from(',\n'), p] : [p]))).toString('utf8')).to.equal(expected);
  });

  it('yields chats, files with extracted text, folders, assistants and transactions', async () => {
    expect((await collect('chats', user.id)).map((c) => [c.title, c.messageCount])).to.deep.equal([['Long chat', 1203]]);
    const [file] = await collect('files', user.id);
    expect(file).to.include({ name: 'plan.docx', kind: 'docx' });
    expect(file.extractedText).to.contain('exported original');
    const [folder] = await collect('smart_folders', user.id);
    expect(folder).to.deep.include({ name: 'Plans', fileIds: [file.id] });
    expect((await collect('assistants', user.id))[0]).to.include({ name: 'Coach', instructions: 'Be kind' });
    expect((await collect('transactions', user.id))[0]).to.include({ kind: 'purchase', amountCents: 999, currency: 'USD', description: 'Pack' });
  });

  it('hands over the decrypted originals, then erases them (repeatably)', async () => {
    const files = [];
    for await (const f of provider().files!(user.id)) files.push(f);
    expect(files).to.have.length(1);
    expect(files[0].path).to.match(/-plan\.docx$/);
    const parts: Buffer[] = [];
    for await (const part of (await files[0].open()) as Readable) parts.push(part as Buffer);
    expect(Buffer.compare(Buffer.concat(parts), docx)).to.equal(0);

    expect(await provider().eraseArtifacts!(user.id)).to.equal(1);
    expect(await provider().eraseArtifacts!(user.id)).to.equal(0);
    expect(await testContainer().platform.artifacts.list(`files/${user.id}/`)).to.deep.equal([]);
  });

  it('keys every chat table directly by user_id (FK to users, indexed), as the generic deletion expects', async () => {
    // information_schema shows constraints only to a table's owner, which the runtime role is not.
    const db = privilegedDb();
    const { rows } = await db.raw(`
      SELECT tc.table_name,
             EXISTS (SELECT 1 FROM pg_indexes i WHERE i.tablename = tc.table_name AND i.indexdef ~ '\\(user_id[,)]') AS indexed
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
        JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name
       WHERE tc.constraint_type = 'FOREIGN KEY' AND kcu.column_name = 'user_id' AND ccu.table_name = 'users'`);
    const keyed = new Map(rows.map((r: { table_name: string; indexed: boolean }) => [r.table_name, r.indexed]));
    for (const table of ['chats', 'messages', 'files', 'smart_folders', 'smart_folder_members', 'assistants', 'transactions']) {
      expect(keyed.get(table), `${table} has an indexed user_id FK to users`).to.equal(true);
    }
  });
});
