// Completions in a chat, end to end over HTTP against the fake provider: the model picker, a
// whole answer (stored encrypted, charged), a streamed one read with an SSE client, a client that
// leaves mid-stream (kept as incomplete, charged), provider failures (nothing stored, no provider
// text), no credit (402 before any provider call) and a provider without a paid tier (refused).
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser, type TestUser } from '../support/accounts.js';
import { tempDir } from '../support/temp.js';
import { LIVE_PROVIDER_KEY, startRelay, type RelayHarness } from '../relay/support.js';
import { buyCredit, chatWith, messagesOf, postCompletion, readEvents } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(50);
  }
}

describe('assistant: completions in a chat', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let user: TestUser;
  const db = () => h.relay.container.platform.db;

  before(async () => {
    h = await startRelay();
    user = await createUser('chat-ai');
    await buyCredit(h, user);
  });
  after(async () => { await h.close(); });

  it('GET /api/v1/models: chat models with prices, paid-tier status and the credential that would serve them', async () => {
    const res = await h.relay.api().get('/api/v1/models').set(user.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const mini = res.body.items.find((m: { id: string }) => m.id === 'openai/gpt-4o-mini');
    expect(mini).to.deep.include({ provider: 'openai', paidTier: true, credential: 'platform', availableForChats: true });
    expect(mini.pricing).to.deep.equal({ input: 0.15, output: 0.6, cachedInput: 0.075 });
    expect(res.body.items.map((m: { id: string }) => m.id)).not.to.include('openai/text-embedding-3-small');
    expect((await h.relay.api().get('/api/v1/models')).status).to.equal(401);
  });

  it('whole answer: 201 with the stored reply, encrypted at rest, with model, token counts and the charge', async () => {
    const chatId = await chatWith(h, user, 'What is the capital of France? [[tokens:100000]]');
    const before = h.fake.bodies.length;
    const res = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/gpt-4o' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ role: 'assistant', content: 'You said: What is the capital of France? [[tokens:100000]]', model: 'openai/gpt-4o', incomplete: false, tokenSource: 'platform', citations: [] });
    expect(res.body.usage).to.include({ completionTokens: 100000, cachedTokens: 2 });
    // The provider got the chat's messages under its own model name, with the platform key.
    expect(h.fake.bodies.slice(before)).to.have.length(1);
    expect(h.fake.bodies.at(-1)).to.deep.include({ model: 'gpt-4o' });
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
    // Stored as a message of the chat …
    const messages = await messagesOf(h, user, chatId);
    expect(messages.map((m) => m.role)).to.deep.equal(['user', 'assistant']);
    expect(messages[1]).to.include({ id: res.body.id, content: res.body.content, model: 'openai/gpt-4o', completionTokens: 100000 });
    // … encrypted under the user's key (no plaintext in the row).
    const row = await db()('messages').where({ id: res.body.id }).first();
    expect(row.content_enc.includes(Buffer.from('capital of France'))).to.equal(false);
    // 100,000 output tokens of gpt-4o at 10 USD per 1M = 100 cents (plus sub-cent input).
    const usage = (await h.relay.api().get('/api/v1/me/transactions').set(user.auth)).body.items.filter((t: { kind: string }) => t.kind === 'usage');
    expect(usage.map((t: { amountCents: number; description: string }) => [t.amountCents, t.description])).to.deep.equal([[-100, 'Chat completion (openai/gpt-4o)']]);
    expect(res.body.usage.costCents).to.be.within(100, 101);
  });

  it('assistant instructions are the system prompt', async () => {
    const assistant = await h.relay.api().post('/api/v1/assistants').set(user.auth).send({ name: 'Pirate', instructions: 'Answer like a pirate.', defaultModel: 'openai/gpt-4o-mini' });
    expect(assistant.status, JSON.stringify(assistant.body)).to.equal(201);
    const chatId = await chatWith(h, user, 'hello');
    const res = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'anthropic/claude-haiku-4-5', assistantId: assistant.body.id });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.content).to.equal('You said: hello');
    expect(h.fake.bodies.at(-1)).to.deep.include({ system: 'Answer like a pirate.' });
  });

  it('streamed: delta events read with an SSE client, then done; the stored reply is what was streamed', async () => {
    const chatId = await chatWith(h, user, 'stream this please');
    const res = await postCompletion(h, user, chatId, { model: 'openai/gpt-4o-mini', stream: true });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
    const events = await readEvents(res.body!);
    const deltas = events.filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).content as string);
    expect(deltas.length).to.be.greaterThan(1);
    expect(deltas.join('')).to.equal('You said: stream this please');
    const done = events.filter((e) => e.event === 'done');
    expect(done).to.have.length(1);
    const reply = JSON.parse(done[0].data);
    expect(reply).to.include({ role: 'assistant', model: 'openai/gpt-4o-mini', incomplete: false });
    expect(reply.usage.completionTokens).to.equal(7);
    const stored = (await messagesOf(h, user, chatId)).at(-1)!;
    expect(stored).to.include({ id: reply.id, role: 'assistant', content: 'You said: stream this please' });
  });

  it('client leaves mid-stream: what was produced is stored, marked incomplete, and charged', async () => {
    const chatId = await chatWith(h, user, '[[slow:400]] a long answer');
    const controller = new AbortController();
    const res = await postCompletion(h, user, chatId, { model: 'openai/gpt-4o-mini', stream: true }, controller.signal);
    expect(res.status).to.equal(200);
    const seen: string[] = [];
    await readEvents(res.body!, (e) => {
      if (e.event === 'delta') seen.push(JSON.parse(e.data).content);
      return false;
    }).catch(() => []);
    controller.abort();
    const reply = await waitFor(async () => (await messagesOf(h, user, chatId)).find((m) => m.role === 'assistant'));
    expect(reply.content).to.equal(seen.join(''));
    expect(reply.content.length).to.be.greaterThan(0);
    expect(reply.content).not.to.equal('You said: [[slow:400]] a long answer');
    const completion = await db()('completions').where({ message_id: reply.id }).first();
    expect(completion).to.include({ status: 'incomplete', user_id: user.id });
    expect(Number(completion.cost_microcents)).to.be.greaterThan(0);
    expect(completion.output_tokens).to.be.greaterThan(0);
    // Charged: the cost reached the user's charge carry (sub-cent) or the ledger.
    const carry = await db()('relay_charge_carry').where({ user_id: user.id }).first();
    expect(carry, 'the aborted reply was charged').to.exist;
  });

  it('provider failure: a problem that says what happened without the provider text or the prompt; nothing stored, nothing charged', async () => {
    const chatId = await chatWith(h, user, '[[status:500]] secret-prompt-words');
    const carryBefore = Number((await db()('relay_charge_carry').where({ user_id: user.id }).first())?.carry_microcents ?? 0);
    const res = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(res.status).to.equal(502);
    expect(res.headers['content-type']).to.match(/problem\+json/);
    expect(res.body.type).to.equal('urn:custos:problem:upstream-failed');
    expect(res.body.detail).to.contain('status 500');
    expect(res.text).not.to.contain('secret-prompt-words');
    expect(res.text).not.to.contain('Invalid request');
    // Streamed, failing after two chunks: an error event, and still nothing stored.
    const midChat = await chatWith(h, user, '[[midstream-error]] more-secret-words');
    const streamed = await postCompletion(h, user, midChat, { model: 'openai/gpt-4o-mini', stream: true });
    const events = await readEvents(streamed.body!);
    const error = events.find((e) => e.event === 'error');
    expect(error, JSON.stringify(events)).to.exist;
    expect(JSON.parse(error!.data)).to.include({ status: 502, type: 'urn:custos:problem:upstream-stream-failed' });
    expect(events.map((e) => e.data).join('')).not.to.contain('Server overloaded');
    expect(events.some((e) => e.event === 'done')).to.equal(false);
    for (const id of [chatId, midChat]) expect((await messagesOf(h, user, id)).map((m) => m.role)).to.deep.equal(['user']);
    expect(Number((await db()('relay_charge_carry').where({ user_id: user.id }).first())?.carry_microcents ?? 0)).to.equal(carryBefore);
    // A provider that never answers: 504 after the relay's timeout.
    const hung = await h.relay.api().post(`/api/v1/chats/${await chatWith(h, user, '[[hang]]')}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(hung.status).to.equal(504);
    expect(hung.body.type).to.equal('urn:custos:problem:upstream-timeout');
  });

  it('without credit: 402 before any provider call', async () => {
    const broke = await createUser('chat-ai-broke');
    const chatId = await chatWith(h, broke, 'answer me for free');
    const calls = h.fake.bodies.length;
    const res = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(broke.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(res.status).to.equal(402);
    expect(res.body.type).to.equal('urn:custos:problem:payment-required');
    const streamed = await postCompletion(h, broke, chatId, { model: 'openai/gpt-4o-mini', stream: true });
    expect(streamed.status).to.equal(402);
    expect(h.fake.bodies.length, 'no provider call was made').to.equal(calls);
    expect((await messagesOf(h, broke, chatId)).map((m) => m.role)).to.deep.equal(['user']);
  });

  it('refuses what it cannot answer: unknown model, a chat not yours, nothing to answer', async () => {
    const chatId = await chatWith(h, user, 'hi');
    const unknown = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/text-embedding-3-small' });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.detail).to.contain('GET /api/v1/models');
    const other = await createUser('chat-ai-other');
    expect((await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(other.auth).send({ model: 'openai/gpt-4o-mini' })).status).to.equal(404);
    const answered = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(answered.status).to.equal(201);
    const again = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(again.status).to.equal(409);
  });
});

describe('assistant: a provider without a paid production tier is refused for chats', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  before(async () => {
    const catalogue = JSON.parse(readFileSync(join(process.cwd(), 'data', 'relay-catalogue.json'), 'utf8'));
    catalogue.providers.google.paidTier = false;
    const file = join(tempDir('chat-ai-catalogue'), 'catalogue.json');
    writeFileSync(file, JSON.stringify(catalogue));
    h = await startRelay({ CUSTOS_RELAY_CATALOGUE_FILE: file });
  });
  after(async () => { await h.close(); });

  it('403 with a clear problem, no provider call; the picker and the trust centre show the flag', async () => {
    const user = await createUser('chat-ai-free-tier');
    await buyCredit(h, user);
    const chatId = await chatWith(h, user, 'hello gemini');
    const calls = h.fake.bodies.length;
    const res = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'google/gemini-2.5-flash' });
    expect(res.status).to.equal(403);
    expect(res.body.type).to.equal('urn:custos:problem:provider-not-paid-tier');
    expect(res.body.detail).to.contain('Google Gemini').and.contain('paid production');
    expect(h.fake.bodies.length).to.equal(calls);
    const models = (await h.relay.api().get('/api/v1/models').set(user.auth)).body.items;
    expect(models.find((m: { id: string }) => m.id === 'google/gemini-2.5-flash')).to.include({ paidTier: false, availableForChats: false });
    const ok = await h.relay.api().post(`/api/v1/chats/${chatId}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(ok.status).to.equal(201);
    const posture = JSON.stringify((await h.relay.api().get('/api/v1/trust/posture')).body);
    expect(posture).to.contain('{"id":"google","paidTier":false}');
    expect(posture).to.contain('google (not a paid production tier: the provider may train on requests, so chats refuse it)');
  });
});
