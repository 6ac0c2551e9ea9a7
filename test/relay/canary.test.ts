// No content retained, checked from the outside: a canary string in prompts (and, since the fake
// provider quotes the prompt, in completions and in provider error bodies) is sent through every
// path: success whole and streamed for each protocol, embeddings, provider errors, mid-stream
// errors, client abort, timeout, an invalid body and an unparsable one. Afterwards it must appear
// in no pg_dump of the database, no Redis value (job payloads included) and no line of the
// service log at level trace. Each scan has a positive control, so a scan that sees nothing fails.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { createUser, type TestUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { containsAnyForm, redisValues } from '../support/canary.js';
import { createKey, startRelay, type CreatedKey, type RelayHarness, settled } from './support.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));



describe('relay: no prompt or completion retained anywhere (canary)', function () {
  this.timeout(120_000);
  const canary = `RELAYCANARY${randomBytes(8).toString('hex')}`;
  const logLines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  let h: RelayHarness;
  let user: TestUser;
  let key: CreatedKey;

  const call = (body: Record<string, unknown>) => fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const ask = (model: string, content: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'system', content: `system ${canary}` }, { role: 'user', content }], ...extra });

  before(async () => {
    h = await startRelay({ CUSTOS_LOG_LEVEL: 'trace' }, pino({ level: 'trace', base: { service: 'custos' } }, sink));
    user = await createUser('relay-canary');
    key = await createKey(h, user, { spendingLimitCents: 100000 });
    const replies: string[] = [];
    for (const model of ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5', 'google/gemini-2.5-flash', 'xai/grok-3-mini']) {
      replies.push(await (await call(ask(model, `hello ${canary}`))).text());
      replies.push(await (await call(ask(model, `stream ${canary}`, { stream: true }))).text());
      await (await call(ask(model, `[[status:500]] ${canary}`))).text();
      await (await call(ask(model, `[[status:400]] ${canary}`, { stream: true }))).text();
      await (await call(ask(model, `[[midstream-error]] ${canary}`, { stream: true }))).text();
      await (await call(ask(model, `[[hang]] ${canary}`))).text();
    }
    // Positive control on the client side: the canary did go through, in the completions.
    expect(replies.filter((r) => r.includes(canary))).to.have.length(8);
    await (await fetch(`${h.baseUrl}/embeddings`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/text-embedding-3-small', input: `embed ${canary}` }) })).text();
    // Client abort mid-stream.
    const controller = new AbortController();
    const aborted = await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', signal: controller.signal, headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify(ask('openai/gpt-4o-mini', `[[slow:300]] abort ${canary}`, { stream: true })) });
    await aborted.body!.getReader().read();
    controller.abort();
    // Invalid and unparsable bodies carrying the canary.
    await (await call({ model: 'openai/gpt-4o-mini', messages: canary })).text();
    await (await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: `{"model":"openai/gpt-4o-mini","messages":[${canary}` })).text();
    await (await call({ model: `openai/${canary}`, messages: [{ role: 'user', content: canary }] })).text();
    await sleep(500);
    await settled(h);
    // A scheduled job ran meanwhile (its payload must be ids only).
    await testContainer().platform.queues.enqueue('relay', `relay-purge-log-canary-${canary.slice(-6)}`, { task: 'purge-log' });
    expect(h.fake.bodies.filter((b) => JSON.stringify(b).includes(canary)).length, 'the provider received the canary').to.be.greaterThan(20);
  });
  after(async () => { await h.close(); });

  it('is in no pg_dump of the database, in no form', async () => {
    const { stdout } = await run('pg_dump', ['--no-owner', '--data-only', '--dbname', testContainer().platform.config.databaseUrl], { maxBuffer: 1024 * 1024 * 1024 });
    // Controls: the dump holds this user's relay records (their key id) and email.
    expect(stdout).to.contain(user.email);
    expect(stdout).to.contain(key.id);
    const logged = await testContainer().platform.db('relay_log').where({ api_key_id: key.id }).select('reason');
    expect(new Set(logged.map((r) => r.reason))).to.include.members(['ok', 'upstream_error', 'stream_error', 'upstream_timeout', 'client_abort']);
    expect(containsAnyForm(stdout, canary)).to.equal(false);
  });

  it('is in no Redis value (job payloads included)', async () => {
    const { redis, config } = testContainer().platform;
    const control = `${config.queuePrefix}:canary-control`;
    await redis.set(control, `control ${canary}`);
    try {
      const values = await redisValues(redis);
      // Controls: the scan sees the spend counter of this key, the relay job's payload and the planted value.
      expect([...values.keys()].some((k) => k.includes(`relay:spend:${key.id}`))).to.equal(true);
      expect([...values.values()].some((v) => v.includes('"task\\":\\"purge-log\\"') || v.includes('purge-log'))).to.equal(true);
      expect(values.get(control)).to.contain(canary);
      values.delete(control);
      const hits = [...values.entries()].filter(([, v]) => containsAnyForm(v, canary)).map(([k]) => k);
      expect(hits).to.deep.equal([]);
    } finally {
      await redis.del(control);
    }
  });

  it('is in no line of the service log, at level trace', () => {
    const log = logLines.join('');
    // Control: the log captured the relay's requests (the request log lines for /v1/chat/completions).
    expect(log).to.contain('/v1/chat/completions');
    expect(log.split('\n').length).to.be.greaterThan(30);
    expect(containsAnyForm(log, canary)).to.equal(false);
    // And the scan would see it if it were there.
    expect(containsAnyForm(`${log}{"msg":"${canary}"}`, canary)).to.equal(true);
  });
});
