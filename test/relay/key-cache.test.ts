// The per-process API-key cache behind the relay: keys are served from memory once a replica is
// subscribed to the invalidation channel, yet a revocation, a rotation or a deletion request
// made on one replica is refused by another at once; a subscription that drops empties the
// cache (messages may have been missed), and keys are read from PostgreSQL until it is back.
import { expect } from 'chai';
import OpenAI from 'openai';
import { isolatedApp, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { privilegedDb } from '../support/db.js';
import { waitFor } from '../privacy/support.js';
import { KEY_CACHE_TTL_MS } from '../../src/modules/relay/key-cache.js';
import { slowLinkProxy } from '../support/ports.js';
import { createKey, expectOpenAiError, startRelay, type RelayHarness } from './support.js';

type App = ReturnType<typeof isolatedApp>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const live = async (app: { container: App['container'] }) => waitFor(async () => app.container.relay.keyCacheStatus().live, 10_000, 20);

describe('relay: API-key cache across replicas', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let replica: App;
  before(async () => {
    h = await startRelay();
    replica = isolatedApp({});
  });
  after(async () => {
    await replica.close();
    await h.close();
  });

  async function cachedOnBoth(auth: { Authorization: string }) {
    // The first lookup starts the subscription; once live, the next one fills the cache.
    for (const app of [h.relay, replica]) {
      expect((await app.api().get('/v1/models').set(auth)).status).to.equal(200);
      await live(app);
      expect((await app.api().get('/v1/models').set(auth)).status).to.equal(200);
    }
  }

  it('serves a key from memory: a change made behind the service is seen only after the TTL', async () => {
    const user = await createUser('cache-ttl');
    const key = await createKey(h, user);
    await cachedOnBoth(key.auth);
    // Revoked in PostgreSQL directly (no invalidation published): the cached entry still answers...
    await privilegedDb()('api_keys').where({ id: key.id }).update({ revoked_at: new Date() });
    expect((await replica.api().get('/v1/models').set(key.auth)).status).to.equal(200);
    // ...for KEY_CACHE_TTL_MS at most.
    await sleep(KEY_CACHE_TTL_MS + 200);
    expectOpenAiError(await replica.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    expectOpenAiError(await h.relay.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
  });

  it('a key revoked on one replica is refused by the other at once, though it had it cached', async () => {
    const user = await createUser('cache-revoke');
    const key = await createKey(h, user);
    await cachedOnBoth(key.auth);
    expect((await h.relay.api().delete(`/api/v1/me/api-keys/${key.id}`).set(user.auth)).status).to.equal(204);
    expectOpenAiError(await replica.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    expectOpenAiError(await h.relay.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
  });

  it('a key revoked on one replica is refused at once by another whose link to Redis is slow', async () => {
    // The slow replica receives the invalidation 150 ms after the revocation returned; the
    // barrier before each cache hit (a PING answered after every message sent before it) makes
    // it wait for the message instead of serving the key it still holds.
    const redisUrl = new URL(testContainer().platform.config.redisUrl);
    const proxy = await slowLinkProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }, 150);
    const slow = isolatedApp({ REDIS_URL: `redis://127.0.0.1:${proxy.port}${redisUrl.pathname}` });
    try {
      const user = await createUser('cache-slow-link');
      const key = await createKey(h, user);
      for (const app of [slow, h.relay]) {
        expect((await app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
        await live(app);
        expect((await app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      }
      expect(slow.container.relay.keyCacheStatus().entries).to.equal(1);
      expect((await h.relay.api().delete(`/api/v1/me/api-keys/${key.id}`).set(user.auth)).status).to.equal(204);
      expectOpenAiError(await slow.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    } finally {
      await slow.close();
      await proxy.close();
    }
  });

  it('a rotation without overlap stops the old key on the other replica at once', async () => {
    const user = await createUser('cache-rotate');
    const key = await createKey(h, user);
    await cachedOnBoth(key.auth);
    const rotated = await replica.api().post(`/api/v1/me/api-keys/${key.id}/rotate`).set(user.auth).send({ overlapSeconds: 0 });
    expect(rotated.status).to.equal(201);
    expectOpenAiError(await h.relay.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    expect((await h.relay.api().get('/v1/models').set({ Authorization: `Bearer ${rotated.body.key}` })).status).to.equal(200);
  });

  it('keys of an account pending deletion stop working on every replica at once, and work again after a cancel', async () => {
    const user = await createUser('cache-deletion');
    const key = await createKey(h, user);
    await cachedOnBoth(key.auth);
    const requested = await h.relay.api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password });
    expect(requested.status, requested.text).to.equal(202);
    for (const app of [replica, h.relay]) {
      const error = expectOpenAiError(await app.api().get('/v1/models').set(key.auth), 403, 'account_pending_deletion');
      expect(error.message).to.include('scheduled for deletion').and.include('DELETE /api/v1/me/deletion');
    }
    // The SDK sees it as a PermissionDeniedError on a call, and nothing reaches the provider.
    const calls = h.fake.bodies.length;
    const client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
    const refused = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'still there?' }] }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(OpenAI.PermissionDeniedError);
    expect(h.fake.bodies.length).to.equal(calls);
    expect((await h.relay.api().delete('/api/v1/me/deletion').set(user.auth)).status).to.equal(200);
    expect((await replica.api().get('/v1/models').set(key.auth)).status).to.equal(200);
  });

  it('fails closed: when the subscription drops, the cache is emptied and keys are read from PostgreSQL', async () => {
    const user = await createUser('cache-down');
    const key = await createKey(h, user);
    await cachedOnBoth(key.auth);
    // Revoked behind the service (no message), then the replica loses its subscription: what it
    // may have missed is not served from memory, even within the TTL.
    await privilegedDb()('api_keys').where({ id: key.id }).update({ revoked_at: new Date() });
    const { redis, config } = testContainer().platform;
    const before = replica.container.relay.keyCacheStatus().subscriptions;
    const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n');
    const name = `${config.queuePrefix}:relay:key-invalidation:subscriber`;
    const ids = clients.filter((line) => line.includes(` name=${name} `)).map((line) => /\bid=(\d+)/.exec(line)![1]);
    expect(ids.length, 'both apps subscribe under the prefix name').to.be.at.least(2);
    // Kill one of the two subscribers; whichever app it was must read PostgreSQL again.
    for (const id of ids) await redis.call('CLIENT', 'KILL', 'ID', id);
    await waitFor(async () => replica.container.relay.keyCacheStatus().subscriptions > before, 10_000, 20);
    expect(replica.container.relay.keyCacheStatus().entries).to.equal(0);
    expectOpenAiError(await replica.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    expectOpenAiError(await h.relay.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
  });

  it('while not subscribed, nothing is cached', async () => {
    const own = isolatedApp({});
    try {
      const user = await createUser('cache-cold');
      const key = await createKey(h, user);
      expect(own.container.relay.keyCacheStatus().live).to.equal(false);
      expect((await own.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      await privilegedDb()('api_keys').where({ id: key.id }).update({ revoked_at: new Date() });
      // Whatever the subscription's state by now, the key read before it was live was not kept.
      expectOpenAiError(await own.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    } finally {
      await own.close();
    }
  });
});
