// What is kept of chats with a model and of the user's own provider tokens, checked from the
// outside. A canary token (and canary chat text) goes through every path: stored, used for whole
// and streamed chats and relay calls, provider failures, an invalid PUT carrying it. Afterwards
// the token appears in no pg_dump, no Redis value (job payloads included), no log line at trace
// level and not in the export, whose completions and provider-token lists are checked; account
// deletion removes both tables' rows and shreds the key they were sealed under. Each scan has a
// positive control.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { startWorkers, type RunningRole } from '../../src/roles.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { containsAnyForm, redisValues } from '../support/canary.js';
import { decryptWithPassphrase, download, readZip, waitFor, waitForExport } from '../privacy/support.js';
import { createKey, startRelay, type RelayHarness } from '../relay/support.js';
import { buyCredit, chatWith, postCompletion, readEvents } from './support.js';

const run = promisify(execFile);

describe('assistant: provider tokens and replies, from the data-rights side', function () {
  this.timeout(180_000);
  const canary = `sk-BYOKCANARY${randomBytes(8).toString('hex')}`;
  const logLines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  let h: RelayHarness;
  let user: TestUser;
  let workers: RunningRole | undefined;
  let replyId: string;

  before(async () => {
    h = await startRelay({ CUSTOS_LOG_LEVEL: 'trace' }, pino({ level: 'trace', base: { service: 'custos' } }, sink));
    user = await createUser('byok-canary');
    await buyCredit(h, user);
    const api = h.relay.api;
    await api().put('/api/v1/me/provider-tokens/openai').set(user.auth).send({ token: canary }).expect(200);
    await api().put('/api/v1/me/provider-tokens/xai').set(user.auth).send({ token: `${canary} invalid` }).expect(400);
    await api().get('/api/v1/me/provider-tokens').set(user.auth).expect(200);
    const whole = await api().post(`/api/v1/chats/${await chatWith(h, user, 'hello from the canary test')}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(whole.status, JSON.stringify(whole.body)).to.equal(201);
    replyId = whole.body.id;
    await readEvents((await postCompletion(h, user, await chatWith(h, user, 'stream please'), { model: 'openai/gpt-4o-mini', stream: true })).body!);
    await api().post(`/api/v1/chats/${await chatWith(h, user, '[[status:401]] rejected')}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' }).expect(502);
    await readEvents((await postCompletion(h, user, await chatWith(h, user, '[[midstream-error]] broken'), { model: 'openai/gpt-4o-mini', stream: true })).body!);
    const key = await createKey(h, user);
    await (await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'relay' }] }) })).text();
    await (await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: '[[status:500]]' }] }) })).text();
    await h.relay.container.relay.drain();
    // Positive control: the provider did receive the canary, as the credential.
    expect(h.fake.authorizations.filter((a) => a === `Bearer ${canary}`).length).to.be.greaterThan(4);
    // A job ran meanwhile (its payload must be ids only): the export of this user.
    workers = startWorkers(h.relay.container);
  });
  after(async () => {
    await workers?.close();
    await h.close();
  });

  it('the export lists the replies\' metadata and the providers with a token, never a token', async () => {
    const passphrase = 'export passphrase for byok';
    const created = await h.relay.api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    await waitForExport(user, created.body.id, 90_000);
    const zip = await decryptWithPassphrase((await download(user, created.body.id)).body as Buffer, passphrase);
    const archive = readZip(zip);
    const completions = JSON.parse(archive.entry('data/assistant/completions.json').toString('utf8'));
    expect(completions).to.have.length(2);
    expect(completions.find((c: { messageId: string }) => c.messageId === replyId)).to.include({ model: 'openai/gpt-4o-mini', provider: 'openai', status: 'complete', tokenSource: 'user', outputTokens: 7 });
    const tokens = JSON.parse(archive.entry('data/assistant/provider_tokens.json').toString('utf8'));
    expect(tokens.map((t: Record<string, unknown>) => Object.keys(t).sort())).to.deep.equal([['createdAt', 'provider', 'updatedAt']]);
    expect(tokens[0].provider).to.equal('openai');
    // Control: the archive holds the chat text (decrypted); never the token, in any entry.
    const everything = archive.names.map((n) => archive.entry(n).toString('latin1')).join('\n');
    expect(everything).to.contain('hello from the canary test');
    expect(containsAnyForm(everything, canary)).to.equal(false);
  });

  it('the token is in no pg_dump of the database, in no form', async () => {
    const { stdout } = await run('pg_dump', ['--no-owner', '--data-only', '--dbname', h.relay.container.platform.config.databaseUrl], { maxBuffer: 1024 * 1024 * 1024 });
    expect(stdout).to.contain(user.email);
    expect(stdout).to.contain(replyId);
    expect(containsAnyForm(stdout, canary)).to.equal(false);
  });

  it('the token is in no Redis value (job payloads included)', async () => {
    const { redis, config } = h.relay.container.platform;
    const control = `${config.queuePrefix}:byok-canary-control`;
    await redis.set(control, `control ${canary}`);
    try {
      const values = await redisValues(redis);
      const hits: string[] = [];
      let sawControl = false;
      let sawExportJob = false;
      for (const [key, value] of values) {
        if (key === control) { sawControl = value.includes(canary); continue; }
        if (key.includes('privacy-export')) sawExportJob = true;
        if (containsAnyForm(value, canary)) hits.push(key);
      }
      expect(sawControl).to.equal(true);
      expect(sawExportJob, 'the scan saw the export job').to.equal(true);
      expect(hits).to.deep.equal([]);
    } finally {
      await redis.del(control);
    }
  });

  it('the token is in no line of the service log, at level trace', () => {
    const log = logLines.join('');
    expect(log).to.contain('/api/v1/me/provider-tokens/openai');
    expect(log).to.contain('/completions');
    expect(containsAnyForm(log, canary)).to.equal(false);
    expect(containsAnyForm(`${log}{"msg":"${canary}"}`, canary)).to.equal(true);
  });

  it('account deletion removes the tokens and the replies\' metadata and shreds the key they were sealed under', async () => {
    const { db, fieldCipher, config } = h.relay.container.platform;
    const sealed = await db('provider_tokens').where({ user_id: user.id }).first();
    expect(sealed).to.exist;
    expect(Number((await db('completions').where({ user_id: user.id }).count('* as n').first())?.n)).to.equal(2);
    const grace = config.privacy.deletionGraceDays;
    config.privacy.deletionGraceDays = 0;
    try {
      const requested = await h.relay.api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
      expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
      const receiptPath = new URL(requested.body.receiptUrl, 'http://x').pathname;
      const done = await waitFor(async () => {
        const r = await h.relay.api().get(receiptPath);
        expect(r.body.status).to.not.equal('failed');
        return r.body.status === 'completed' ? r.body : undefined;
      }, 90_000);
      const receipt = JSON.parse(done.receipt);
      expect(receipt.deletedRows['provider_tokens.user_id']).to.equal(1);
      expect(receipt.deletedRows['completions.user_id']).to.equal(2);
    } finally {
      config.privacy.deletionGraceDays = grace;
    }
    expect(await db('provider_tokens').where({ user_id: user.id })).to.deep.equal([]);
    expect(await db('completions').where({ user_id: user.id })).to.deep.equal([]);
    let shredded: unknown;
    try {
      await fieldCipher.decryptText({ table: 'provider_tokens', column: 'token_enc', rowId: `${user.id}/openai` }, sealed.token_enc);
    } catch (error) {
      shredded = error;
    }
    expect(shredded, 'the old ciphertext no longer opens').to.be.instanceOf(Error);
  });
});
