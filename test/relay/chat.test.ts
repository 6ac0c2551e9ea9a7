// The relay as a customer's OpenAI SDK sees it: models, chat completions whole and streamed
// (bytes as they arrive, usage chunk only when asked), embeddings, and every failure reduced to
// an OpenAI-shaped error with a fixed message, never the provider's body.
import { expect } from 'chai';
import OpenAI from 'openai';
import { createUser, type TestUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { LIVE_PROVIDER_KEY, TEST_PROVIDER_KEY, createKey, expectOpenAiError, startRelay, type CreatedKey, type RelayHarness, settled } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra }) as { model: string; messages: Array<{ role: 'user'; content: string }> };

/** Reads a raw SSE response from the relay, with the time each piece arrived. */
async function rawStream(h: RelayHarness, key: CreatedKey, body: Record<string, unknown>) {
  const started = Date.now();
  const res = await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  const pieces: Array<{ at: number; text: string }> = [];
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) pieces.push({ at: Date.now() - started, text: decoder.decode(chunk) });
  return { res, pieces, text: pieces.map((p) => p.text).join('') };
}

describe('relay: chat completions through the OpenAI SDK', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let user: TestUser;
  let key: CreatedKey;
  let client: OpenAI;
  before(async () => {
    h = await startRelay();
    user = await createUser('relay-chat');
    key = await createKey(h, user);
    client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  it('lists the catalogue with prices per 1M tokens and the paid-tier flag', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).to.include.members(['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4-5', 'xai/grok-4', 'google/gemini-2.5-flash']);
    const mini = models.data.find((m) => m.id === 'openai/gpt-4o-mini') as unknown as { pricing: Record<string, unknown>; provider_paid_tier: boolean };
    expect(mini.pricing).to.deep.include({ unit: '1M tokens', input: 0.15, output: 0.6 });
    expect(mini.provider_paid_tier).to.equal(true);
  });

  it('non-stream: the answer, forwarded with the live provider key and the upstream model name', async () => {
    const before = h.fake.authorizations.length;
    const completion = await client.chat.completions.create(ask('hello there'));
    expect(completion.choices[0].message.content).to.equal('You said: hello there');
    expect(completion.usage?.completion_tokens).to.equal(7);
    expect(h.fake.authorizations.slice(before)).to.deep.equal([`Bearer ${LIVE_PROVIDER_KEY}`]);
    expect(h.fake.bodies.at(-1)!.model).to.equal('gpt-4o-mini');
  });

  it('stream: chunks through the SDK; the usage chunk only when asked for', async () => {
    const plain = await client.chat.completions.create({ ...ask('stream me'), stream: true });
    let text = '';
    let sawUsage = false;
    for await (const chunk of plain) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) sawUsage = true;
    }
    expect(text).to.equal('You said: stream me');
    expect(sawUsage).to.equal(false);
    expect((h.fake.bodies.at(-1)!.stream_options as Record<string, unknown>).include_usage).to.equal(true);

    const withUsage = await client.chat.completions.create({ ...ask('count me'), stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).to.equal(7);
  });

  it('answers and every stream chunk name the model as the client asked for it (<provider>/<model>), for each protocol', async () => {
    for (const model of ['openai/gpt-4o-mini', 'xai/grok-3-mini', 'anthropic/claude-haiku-4-5', 'google/gemini-2.5-flash']) {
      const whole = await client.chat.completions.create({ ...ask('name it'), model });
      expect(whole.model, model).to.equal(model);
      const stream = await client.chat.completions.create({ ...ask('name it'), model, stream: true, stream_options: { include_usage: true } });
      const names = new Set<string>();
      let chunks = 0;
      for await (const chunk of stream) {
        names.add(chunk.model);
        chunks++;
      }
      expect(chunks, model).to.be.greaterThan(2);
      expect([...names], model).to.deep.equal([model]);
    }
    // The provider was asked with its own name for the model.
    expect(h.fake.bodies.some((b) => b.model === 'gpt-4o-mini' && b.stream === true)).to.equal(true);
  });

  it('stream: bytes reach the client as the provider sends them, not at the end', async () => {
    const { res, pieces, text } = await rawStream(h, key, ask('[[slow:250]] tick'));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
    expect(text).to.include('data: [DONE]');
    const firstContent = pieces.find((p) => p.text.includes('You'))!;
    const last = pieces.at(-1)!;
    expect(last.at - firstContent.at, JSON.stringify(pieces.map((p) => p.at))).to.be.greaterThan(400);
  });

  it('stream: the timeout is for silence, not for the whole answer: a provider that keeps talking is never cut off', async () => {
    // Chunks 600 ms apart against the tests' 1500 ms timeout: the whole stream takes over 2 s.
    const started = Date.now();
    const { res, text } = await rawStream(h, key, ask('[[slow:600]] one two three four'));
    expect(res.status).to.equal(200);
    expect(Date.now() - started).to.be.greaterThan(1500);
    expect(text).not.to.include('upstream_timeout');
    expect(text).to.include('data: [DONE]');
  });

  it('stream: keep-alive comments while the provider is silent', async () => {
    const { text } = await rawStream(h, key, ask('[[silent:450]] quiet'));
    expect(text).to.match(/^: keep-alive$/m);
    expect(text.indexOf(': keep-alive')).to.be.lessThan(text.indexOf('"content":"You"'));
    expect(text).to.include('data: [DONE]');
  });

  it('xai/… goes to xAI with its own key', async () => {
    const completion = await client.chat.completions.create({ ...ask('grok'), model: 'xai/grok-3-mini' });
    expect(completion.choices[0].message.content).to.equal('You said: grok');
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${LIVE_PROVIDER_KEY}-xai`);
    expect(h.fake.bodies.at(-1)!.model).to.equal('grok-3-mini');
  });

  it('embeddings', async () => {
    const result = await client.embeddings.create({ model: 'openai/text-embedding-3-small', input: 'embed me' });
    expect(result.data[0].embedding).to.have.length(1536);
  });

  it('test keys use the provider test credential, and their model allow-list', async () => {
    const testKey = await createKey(h, user, { environment: 'test', models: ['openai/gpt-4o-mini'] });
    const testClient = new OpenAI({ apiKey: testKey.key, baseURL: h.baseUrl, maxRetries: 0 });
    await testClient.chat.completions.create(ask('from a test key'));
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${TEST_PROVIDER_KEY}`);
    const refused = await testClient.chat.completions.create({ ...ask('not allowed'), model: 'openai/gpt-4o' }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(OpenAI.PermissionDeniedError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_allowed');
    // xAI has no test credential configured: a test key never falls back to the live one.
    const xaiRefused = await h.relay.api().post('/v1/chat/completions').set(testKey.auth).send({ ...ask('x'), model: 'xai/grok-3-mini' });
    expectOpenAiError(xaiRefused, 403);
    const open = await createKey(h, user, { environment: 'test' });
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(open.auth).send({ ...ask('x'), model: 'xai/grok-3-mini' }), 503, 'provider_not_configured');
  });

  it('unknown model 404, invalid body 400, both OpenAI-shaped and read by the SDK', async () => {
    const unknown = await client.chat.completions.create({ ...ask('x'), model: 'openai/gpt-99' }).catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.APIError>).code).to.equal('model_not_found');
    const invalid = await h.relay.api().post('/v1/chat/completions').set(key.auth).send({ model: 'openai/gpt-4o-mini' });
    const error = expectOpenAiError(invalid, 400, 'invalid_request');
    expect(error.message).to.match(/messages/);
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(key.auth).type('json').send('{not json'), 400);
  });

  it('provider failures: fixed reasons and statuses, never the provider body', async () => {
    const cases: Array<[string, number, string]> = [['[[status:500]]', 502, 'upstream_error'], ['[[status:429]]', 429, 'upstream_rate_limited'], ['[[status:400]]', 400, 'upstream_rejected'], ['[[status:401]]', 502, 'upstream_error']];
    for (const [directive, status, code] of cases) {
      const prompt = `${directive} secret-prompt-text`;
      const res = await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask(prompt));
      expectOpenAiError(res, status, code);
      expect(res.text).not.to.include('secret-prompt-text');
      const streamed = await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask(prompt, { stream: true }));
      expectOpenAiError(streamed, status, code);
    }
  });

  it('provider silent past the timeout: 504 (whole) and an error event (stream)', async () => {
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask('[[hang]]')), 504, 'upstream_timeout');
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask('[[hang]]', { stream: true })), 504, 'upstream_timeout');
  });

  it('mid-stream provider error: an OpenAI error event without its text', async () => {
    const { text } = await rawStream(h, key, ask('[[midstream-error]] leaked-words'));
    expect(text).to.include('"code":"upstream_error"');
    expect(text).not.to.include('leaked-words');
    expect(text).not.to.include('Server overloaded');
  });

  it('client abort cancels the provider request and settles what was used', async () => {
    const abortedBefore = h.fake.aborted;
    const controller = new AbortController();
    const res = await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', signal: controller.signal, headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify(ask('[[slow:400]] abort me', { stream: true })) });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await sleep(600);
    await settled(h);
    expect(h.fake.aborted).to.be.greaterThan(abortedBefore);
    const row = await testContainer().platform.db('relay_log').where({ api_key_id: key.id, reason: 'client_abort' }).first();
    expect(row, 'an aborted stream is logged').to.exist;
    expect(row.status).to.equal(499);
    expect(row.input_tokens).to.be.greaterThan(0);
  });
});
