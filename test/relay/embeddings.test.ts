// Embeddings through the OpenAI SDK for google/… models: one text goes to Gemini's embedContent,
// a list to batchEmbedContents; `dimensions` becomes outputDimensionality; vectors come back in
// OpenAI's shape (floats, or base64 float32 as the SDK asks by default), named by the Custos
// model id; usage is estimated (Gemini reports none), logged and charged; token arrays are refused.
import { expect } from 'chai';
import OpenAI from 'openai';
import { createUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { LIVE_PROVIDER_KEY, createKey, expectOpenAiError, settled, startRelay, type CreatedKey, type RelayHarness } from './support.js';

describe('relay: google embeddings behind the OpenAI protocol', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let key: CreatedKey;
  let client: OpenAI;
  before(async () => {
    h = await startRelay();
    key = await createKey(h, await createUser('relay-embed'));
    client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
  });
  after(async () => { await h.close(); });

  it('one text: embedContent with the provider key; the SDK decodes the vector', async () => {
    const result = await client.embeddings.create({ model: 'google/gemini-embedding-001', input: 'embed this text' });
    expect(result.model).to.equal('google/gemini-embedding-001');
    expect(result.data).to.have.length(1);
    expect(result.data[0].embedding).to.have.length(4);
    expect(result.data[0].embedding[0]).to.equal('embed this text'.length);
    expect(result.usage.prompt_tokens).to.equal(Math.ceil('embed this text'.length / 4));
    expect(h.fake.authorizations.at(-1)).to.equal(`x-goog-api-key ${LIVE_PROVIDER_KEY}-google`);
    expect(h.fake.bodies.at(-1)).to.deep.equal({ content: { parts: [{ text: 'embed this text' }] } });
  });

  it('a list: one batchEmbedContents request, vectors in order, dimensions passed on, floats when asked', async () => {
    const texts = ['first', 'second text', 'the third one'];
    const res = await h.relay.api().post('/v1/embeddings').set(key.auth).send({ model: 'google/gemini-embedding-001', input: texts, dimensions: 8, encoding_format: 'float' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.object).to.equal('list');
    expect(res.body.data.map((d: { index: number; embedding: number[] }) => [d.index, d.embedding.length, d.embedding[0]])).to.deep.equal(texts.map((t, i) => [i, 8, t.length]));
    const sent = h.fake.bodies.at(-1) as { requests: Array<{ model: string; outputDimensionality: number; content: { parts: Array<{ text: string }> } }> };
    expect(sent.requests.map((r) => [r.model, r.outputDimensionality, r.content.parts[0].text])).to.deep.equal(texts.map((t) => ['models/gemini-embedding-001', 8, t]));
    await settled(h);
    const row = await testContainer().platform.db('relay_log').where({ api_key_id: key.id, model: 'google/gemini-embedding-001' }).orderBy('id', 'desc').first();
    expect(row).to.include({ status: 200, reason: 'ok', provider: 'google', input_tokens: texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0) });
    expect(Number(row.cost_microcents)).to.be.greaterThan(0);
  });

  it('token arrays are refused with 400 before anything reaches the provider; provider failures are fixed reasons', async () => {
    const before = h.fake.bodies.length;
    const refused = await h.relay.api().post('/v1/embeddings').set(key.auth).send({ model: 'google/gemini-embedding-001', input: [[1, 2, 3]] });
    expect(expectOpenAiError(refused, 400, 'invalid_request').message).to.include('string');
    expect(h.fake.bodies.length).to.equal(before);
    const failed = await h.relay.api().post('/v1/embeddings').set(key.auth).send({ model: 'google/gemini-embedding-001', input: '[[status:500]] secret words' });
    expectOpenAiError(failed, 502, 'upstream_error');
    expect(failed.text).not.to.include('secret words');
    // A chat model is not an embedding model.
    expectOpenAiError(await h.relay.api().post('/v1/embeddings').set(key.auth).send({ model: 'google/gemini-2.5-flash', input: 'x' }), 404, 'model_not_found');
  });
});
