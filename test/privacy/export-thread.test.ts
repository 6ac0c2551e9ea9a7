// The export's messages are decrypted and serialised on a thread of their own
// (chat-export-decryption.ts): pages must come back in order and byte for byte what the
// in-process path (eachMessage + messageView + JSON.stringify) gives, and a failure in the thread
// (a row that does not authenticate, a destroyed key, a broken page, an abort) must fail the
// export, leaving the request failed in PostgreSQL and no archive behind.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { createChatRepo } from '../../src/modules/chat/chat-repo.js';
import { decryptedMessagePages, ExportThreadError } from '../../src/modules/chat/chat-export-decryption.js';
import { messageView } from '../../src/modules/chat/chat-views.js';
import { DataKeyDestroyedError } from '../../src/platform/crypto/key-store.js';
import { DecryptionError } from '../../src/platform/crypto/aead.js';
import { MAX_ATTEMPTS } from '../../src/modules/privacy/privacy-service.js';
import { exportPrefix } from '../../src/modules/privacy/privacy-deletion.js';

const repo = () => { const { db, fieldCipher, readDb } = testContainer().platform; return createChatRepo(db, fieldCipher, readDb); };
const keyById = (id: string) => testContainer().platform.keyStore.keyById(id);

/** `count` messages in one chat, inserted directly (sealed as the repo seals them), some with a model and tokens. */
async function seedMessages(user: TestUser, count: number): Promise<string> {
  const { db, fieldCipher } = testContainer().platform;
  const chat = await api().post('/api/v1/chats').set(user.auth).send({ title: 'Thread' }).expect(201);
  const rows = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const id = randomUUID();
    const assistant = i % 3 === 1;
    return {
      id, chat_id: chat.body.id, user_id: user.id, role: assistant ? 'assistant' : 'user',
      content_enc: await fieldCipher.encryptText(user.id, { table: 'messages', column: 'content_enc', rowId: id }, `message ${i}: "café" \\ 数据 🙂\n${'x'.repeat(i % 50)}`),
      model: assistant ? 'gpt "quoted"' : null, prompt_tokens: assistant ? i : null, completion_tokens: assistant ? 0 : null,
    };
  }));
  for (let i = 0; i < rows.length; i += 500) await db('messages').insert(rows.slice(i, i + 500));
  return chat.body.id as string;
}

async function collect(pages: AsyncIterable<{ chunks: Buffer[]; rows: number }>) {
  const out: Buffer[] = [];
  let rows = 0;
  for await (const page of pages) { out.push(Buffer.concat(page.chunks)); rows += page.rows; }
  return { pages: out, rows };
}

describe('privacy: messages decrypted on the export thread', function () {
  this.timeout(120_000);
  let user: TestUser;
  before(async () => {
    user = await createUser('export-thread');
    await seedMessages(user, 233);
  });

  it('gives every page in order, byte for byte the JSON of the in-process rows', async () => {
    const expected: string[] = [];
    for await (const m of repo().eachMessage(user.id)) expected.push(JSON.stringify(messageView(m)));
    expect(expected).to.have.length(233);
    // Pages of 7 rows, up to 3 with the thread at once: 34 pages that must come back in seq order.
    const { pages, rows } = await collect(decryptedMessagePages(repo().eachSealedMessagePage(user.id, 7), { keyById, pagesInFlight: 3 }));
    expect(rows).to.equal(233);
    expect(pages).to.have.length(34);
    expect(pages.map((p) => p.toString('utf8')).join(',\n')).to.equal(expected.join(',\n'));
  });

  it('fails with the key store\'s error when a data key cannot be had, and with ExportThreadError on a broken page', async () => {
    const destroyed = () => Promise.reject(new DataKeyDestroyedError());
    let thrown: unknown;
    await collect(decryptedMessagePages(repo().eachSealedMessagePage(user.id, 50), { keyById: destroyed })).catch((e) => { thrown = e; });
    expect(thrown).to.be.instanceOf(DataKeyDestroyedError);

    async function* truncated() {
      for await (const page of repo().eachSealedMessagePage(user.id, 50)) yield { rows: page.rows, records: page.records.subarray(0, page.records.length - 3) };
    }
    thrown = undefined;
    await collect(decryptedMessagePages(truncated(), { keyById })).catch((e) => { thrown = e; });
    expect(thrown).to.be.instanceOf(ExportThreadError);
    expect((thrown as ExportThreadError).code).to.equal('thread-failed');
  });

  it('stops the thread when the export is aborted elsewhere', async () => {
    const stop = new AbortController();
    const pages = decryptedMessagePages(repo().eachSealedMessagePage(user.id, 10), { keyById, signal: stop.signal })[Symbol.asyncIterator]();
    expect((await pages.next()).value.rows).to.equal(10);
    const reason = new Error('lease lost');
    stop.abort(reason);
    let thrown: unknown;
    await pages.next().catch((e) => { thrown = e; });
    expect(thrown, 'no page after the abort').to.equal(reason);
    expect((await pages.next()).done).to.equal(true);
  });

  it('a row that does not authenticate fails the export job: failed in PostgreSQL with DecryptionError, no archive', async () => {
    const victim = await createUser('export-thread-tampered');
    await seedMessages(victim, 1500);
    const { db, artifacts } = testContainer().platform;
    // One row on the second page (1,000 rows a page) has a byte of its tag flipped.
    const row = await db('messages').where({ user_id: victim.id }).orderBy('seq').offset(1200).first('id', 'content_enc');
    const tampered = Buffer.from(row.content_enc as Buffer);
    tampered[tampered.length - 1] ^= 0x01;
    await db('messages').where({ id: row.id }).update({ content_enc: tampered });

    const created = await api().post('/api/v1/me/exports').set(victim.auth).send({ passphrase: 'thread failure passphrase 9', password: victim.password }).expect(202);
    const id = created.body.id as string;
    const { privacy } = testContainer();
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
      let thrown: unknown;
      await privacy.runExport(id).catch((error) => { thrown = error; });
      expect(thrown, `attempt ${attempt}`).to.be.instanceOf(DecryptionError);
    }
    await privacy.runExport(id); // the last attempt records the failure instead of throwing
    const request = await db('privacy_requests').where({ id }).first();
    expect(request).to.include({ state: 'failed', attempts: MAX_ATTEMPTS, last_error: 'DecryptionError' });
    expect(request.artifact_key).to.equal(null);
    expect(await artifacts.list(exportPrefix(victim.id), { includePartials: true }), 'no archive, not even a partial one').to.deep.equal([]);
    expect((await api().get(`/api/v1/me/exports/${id}`).set(victim.auth)).body).to.include({ status: 'failed', downloadUrl: null });
  });
});
