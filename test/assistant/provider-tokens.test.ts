// The user's own provider tokens (BYOK), end to end: stored and listed by their last four only,
// used instead of the platform's key for the user's chats and live relay calls (the fake provider
// records the credential it received), never for test keys or other users, and gone on DELETE.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { createUser, type TestUser } from '../support/accounts.js';
import { slowLinkProxy } from '../support/ports.js';
import { waitFor } from '../privacy/support.js';
import { LEASE_MS } from '../../src/platform/confirmation-lease.js';
import { LIVE_PROVIDER_KEY, TEST_PROVIDER_KEY, createKey, startRelay, type RelayHarness } from '../relay/support.js';
import { buyCredit, chatWith } from './support.js';

describe('assistant: your own provider tokens (BYOK)', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let user: TestUser;
  const token = `sk-own-${randomBytes(12).toString('hex')}`;
  const anthropicToken = `sk-ant-own-${randomBytes(12).toString('hex')}`;

  before(async () => {
    h = await startRelay();
    user = await createUser('byok');
    await buyCredit(h, user);
  });
  after(async () => { await h.close(); });

  it('PUT stores it without echoing it; GET lists providers and the last four characters only', async () => {
    const put = await h.relay.api().put('/api/v1/me/provider-tokens/openai').set(user.auth).send({ token });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(put.body).to.include({ provider: 'openai', lastFour: token.slice(-4) });
    expect(put.text).not.to.contain(token.slice(0, -4));
    await h.relay.api().put('/api/v1/me/provider-tokens/anthropic').set(user.auth).send({ token: anthropicToken }).expect(200);
    const list = await h.relay.api().get('/api/v1/me/provider-tokens').set(user.auth);
    expect(list.status).to.equal(200);
    expect(list.body.items.map((t: { provider: string; lastFour: string }) => [t.provider, t.lastFour])).to.deep.equal([['anthropic', anthropicToken.slice(-4)], ['openai', token.slice(-4)]]);
    expect(list.text).not.to.contain(token.slice(0, -4));
    expect(list.text).not.to.contain(anthropicToken.slice(0, -4));
    // At rest: AES-256-GCM, no plaintext in the row.
    const row = await h.relay.container.platform.db('provider_tokens').where({ user_id: user.id, provider: 'openai' }).first();
    expect(row.token_enc.includes(Buffer.from(token))).to.equal(false);
    // Another user sees none of it.
    const other = await createUser('byok-other');
    expect((await h.relay.api().get('/api/v1/me/provider-tokens').set(other.auth)).body.items).to.deep.equal([]);
    // Bad input is refused with a field error.
    const bad = await h.relay.api().put('/api/v1/me/provider-tokens/openai').set(user.auth).send({ token: `${token} with spaces` });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['body.token']);
    expect(bad.text, 'a refused token is not echoed').not.to.contain(token);
    expect((await h.relay.api().put('/api/v1/me/provider-tokens/mistral').set(user.auth).send({ token })).status).to.equal(400);
  });

  it('serves the user\'s chats instead of the platform key (OpenAI and Anthropic), and only theirs', async () => {
    const res = await h.relay.api().post(`/api/v1/chats/${await chatWith(h, user, 'with my own key')}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.tokenSource).to.equal('user');
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${token}`);
    const claude = await h.relay.api().post(`/api/v1/chats/${await chatWith(h, user, 'claude too')}/completions`).set(user.auth).send({ model: 'anthropic/claude-haiku-4-5' });
    expect(claude.status).to.equal(201);
    expect(h.fake.authorizations.at(-1)).to.equal(`x-api-key ${anthropicToken}`);
    const models = (await h.relay.api().get('/api/v1/models').set(user.auth)).body.items;
    expect(models.find((m: { id: string }) => m.id === 'openai/gpt-4o-mini').credential).to.equal('user');
    expect(models.find((m: { id: string }) => m.id === 'xai/grok-3-mini').credential).to.equal('platform');

    const other = await createUser('byok-bystander');
    await buyCredit(h, other);
    const theirs = await h.relay.api().post(`/api/v1/chats/${await chatWith(h, other, 'platform key for me')}/completions`).set(other.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(theirs.body.tokenSource).to.equal('platform');
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
  });

  it('serves the user\'s live relay calls (/v1 with their cus_live_ key); test keys keep the test credential', async () => {
    const live = await createKey(h, user);
    const client = new OpenAI({ apiKey: live.key, baseURL: h.baseUrl, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'relay with my key' }] });
    expect(completion.choices[0].message.content).to.equal('You said: relay with my key');
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${token}`);
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'stream with my key' }], stream: true });
    for await (const chunk of stream) void chunk;
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${token}`);
    const test = await createKey(h, user, { environment: 'test' });
    await new OpenAI({ apiKey: test.key, baseURL: h.baseUrl, maxRetries: 0 }).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'test key' }] });
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${TEST_PROVIDER_KEY}`);
  });

  it('DELETE removes it: the platform key serves the user again; a second DELETE is 404', async () => {
    expect((await h.relay.api().delete('/api/v1/me/provider-tokens/openai').set(user.auth)).status).to.equal(204);
    expect((await h.relay.api().delete('/api/v1/me/provider-tokens/openai').set(user.auth)).status).to.equal(404);
    const res = await h.relay.api().post(`/api/v1/chats/${await chatWith(h, user, 'back to the platform')}/completions`).set(user.auth).send({ model: 'openai/gpt-4o-mini' });
    expect(res.body.tokenSource).to.equal('platform');
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
    expect((await h.relay.api().get('/api/v1/me/provider-tokens').set(user.auth)).body.items.map((t: { provider: string }) => t.provider)).to.deep.equal(['anthropic']);
    expect(await h.relay.container.platform.db('provider_tokens').where({ user_id: user.id, provider: 'openai' }).first()).to.equal(undefined);
  });

  it('a token stored or deleted through one replica is used, or dropped, by another that had cached the old answer', async () => {
    const other = await startRelay();
    try {
      const owner = await createUser('byok-replicas');
      await buyCredit(h, owner);
      const live = await createKey(h, owner);
      const ask = async () => {
        await new OpenAI({ apiKey: live.key, baseURL: h.baseUrl, maxRetries: 0 }).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'which key?' }] });
        return h.fake.authorizations.at(-1);
      };
      const tokens = h.relay.container.assistant.tokens;
      /** Until this replica answers from its cache (its notification connection is up). */
      const cachedHere = async () => {
        for (let i = 0; !tokens.isCached(owner.id, 'openai'); i += 1) {
          if (i > 100) throw new Error('the provider-token cache never came up');
          await ask();
        }
      };
      /** The cache lives 5 s; a notification arrives in milliseconds. */
      const droppedHere = async () => {
        const since = Date.now();
        while (tokens.isCached(owner.id, 'openai')) {
          if (Date.now() - since > 1000) throw new Error('the other replica\'s change did not reach this cache within 1 s');
          await new Promise((r) => setTimeout(r, 10));
        }
      };

      expect(await ask()).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
      await cachedHere(); // "no token of this user" is cached here
      const own = `sk-own-${randomBytes(12).toString('hex')}`;
      await other.relay.api().put('/api/v1/me/provider-tokens/openai').set(owner.auth).send({ token: own }).expect(200);
      await droppedHere();
      expect(await ask()).to.equal(`Bearer ${own}`);

      await cachedHere(); // now the token is cached here
      await other.relay.api().delete('/api/v1/me/provider-tokens/openai').set(owner.auth).expect(204);
      await droppedHere();
      expect(await ask()).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
    } finally {
      await other.close();
    }
  });

  it('a replica behind a slow database link serves its cached answer on the lease, without a round trip, yet uses a token changed elsewhere once that change returns', async () => {
    // Every answer from PostgreSQL, notifications included, reaches this replica 100 ms late.
    const database = new URL(process.env.DATABASE_URL!);
    const proxy = await slowLinkProxy({ host: database.hostname, port: Number(database.port || 5432) }, 100);
    const slowUrl = new URL(database.href);
    slowUrl.host = `127.0.0.1:${proxy.port}`;
    const slow = await startRelay({ DATABASE_URL: slowUrl.href });
    try {
      const owner = await createUser('byok-lease');
      await buyCredit(h, owner);
      const live = await createKey(h, owner);
      const ask = async () => {
        const started = performance.now();
        await new OpenAI({ apiKey: live.key, baseURL: slow.baseUrl, maxRetries: 0 }).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'which key?' }] });
        return { authorization: slow.fake.authorizations.at(-1), ms: performance.now() - started };
      };
      const { tokens } = slow.relay.container.assistant;
      const { notifications } = slow.relay.container.platform;
      const onLease = () => waitFor(async () => {
        await ask();
        return tokens.isCached(owner.id, 'openai') && notifications.leased();
      }, 10_000, 10);

      await onLease(); // "no token of this user" is cached there, and the lease holds
      const hit = await ask();
      expect(hit.authorization).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
      expect(hit.ms, 'a hit on the lease waits for no round trip through the 100 ms link').to.be.below(90);

      const own = `sk-own-${randomBytes(12).toString('hex')}`;
      const storeStarted = performance.now();
      await h.relay.api().put('/api/v1/me/provider-tokens/openai').set(owner.auth).send({ token: own }).expect(200);
      expect(performance.now() - storeStarted, 'the change outwaits the lease').to.be.at.least(LEASE_MS);
      expect((await ask()).authorization).to.equal(`Bearer ${own}`);

      await onLease(); // now the user's token is cached there
      await h.relay.api().delete('/api/v1/me/provider-tokens/openai').set(owner.auth).expect(204);
      expect((await ask()).authorization).to.equal(`Bearer ${LIVE_PROVIDER_KEY}`);
    } finally {
      await slow.close();
      await proxy.close();
    }
  });
});
