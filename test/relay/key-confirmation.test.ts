// How a cached API key is confirmed without costing every call a Redis round trip, and what a
// revocation that arrives while a call is being prepared leaves behind. Two replicas share
// PostgreSQL and Redis; the second reaches Redis through a proxy that delays every answer, so
// an invalidation published by the first is seen there late:
//   - with a short delay the replica holds a lease (key-cache.ts): its hits need no PING of
//     their own, yet a key revoked on the other replica is refused at once, because the
//     revocation returns only once the lease cannot vouch for the old entry any more;
//   - with a delay longer than the lease every hit waits for its own barrier, while the spend
//     reservation runs alongside: a key revoked meanwhile is refused with 401 (over a 400 for
//     an invalid body too), nothing reaches the provider, and the reservation is given back.
import { expect } from 'chai';
import { isolatedApp, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { privilegedDb } from '../support/db.js';
import { slowLinkProxy } from '../support/ports.js';
import { waitFor } from '../privacy/support.js';
import { LEASE_MS } from '../../src/platform/confirmation-lease.js';
import { spendPeriod } from '../../src/modules/relay/spend-limiter.js';
import { LIVE_PROVIDER_KEY, createKey, expectOpenAiError, startRelay, type RelayHarness } from './support.js';

type App = ReturnType<typeof isolatedApp>;

describe('relay: confirming a cached API key (lease, else a barrier per lookup)', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  before(async () => { h = await startRelay(); });
  after(async () => { await h.close(); });

  async function slowReplica(delayMs: number) {
    const redisUrl = new URL(testContainer().platform.config.redisUrl);
    const proxy = await slowLinkProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) }, delayMs);
    const app = isolatedApp({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}${redisUrl.pathname}`,
      CUSTOS_PROVIDER_OPENAI_BASE_URL: `${h.fake.baseUrl}/v1`,
      CUSTOS_PROVIDER_OPENAI_API_KEY: LIVE_PROVIDER_KEY,
    });
    return { app, close: async () => { await app.close(); await proxy.close(); } };
  }
  const live = (app: App) => waitFor(async () => app.container.relay.keyCacheStatus().live, 10_000, 20);

  it('a replica serving hits on its lease sends no PING per call, yet refuses a key revoked elsewhere at once', async () => {
    const slow = await slowReplica(100);
    try {
      const user = await createUser('lease-revoke');
      const key = await createKey(h, user);
      expect((await slow.app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      await live(slow.app);
      expect((await slow.app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      await waitFor(async () => slow.app.container.relay.keyCacheStatus().leased, 5_000, 10);
      // A hit on the lease does not wait for a round trip through the 100 ms link.
      const started = performance.now();
      expect((await slow.app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      expect(performance.now() - started).to.be.below(90);
      expect(slow.app.container.relay.keyCacheStatus().leased).to.equal(true);

      const revokeStarted = performance.now();
      expect((await h.relay.api().delete(`/api/v1/me/api-keys/${key.id}`).set(user.auth)).status).to.equal(204);
      expect(performance.now() - revokeStarted, 'the revocation outwaits the lease').to.be.at.least(LEASE_MS);
      expectOpenAiError(await slow.app.api().get('/v1/models').set(key.auth), 401, 'invalid_api_key');
    } finally {
      await slow.close();
    }
  });

  it('a key revoked just before its call reaches a replica slower than the lease is refused: nothing forwarded, reserved or charged', async () => {
    // 600 ms: longer than the lease, so each hit waits for its own barrier; and long enough that
    // the calls below start (after the revocation returned) before the message arrives.
    const slow = await slowReplica(600);
    try {
      const user = await createUser('inflight-revoke');
      const key = await createKey(h, user, { spendingLimitCents: 500 });
      // The first lookup starts the subscription; once live, the next call fills the cache.
      expect((await slow.app.api().get('/v1/models').set(key.auth)).status).to.equal(200);
      await live(slow.app);
      const chat = { model: 'openai/gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hello' }] };
      // This call reads PostgreSQL and fills the cache; it also creates the Redis counter.
      expect((await slow.app.api().post('/v1/chat/completions').set(key.auth).send(chat)).status).to.equal(200);
      await slow.app.container.relay.drain();
      expect(slow.app.container.relay.keyCacheStatus()).to.include({ entries: 1, leased: false });
      const { redis } = testContainer().platform;
      const counter = `${slow.app.container.platform.config.queuePrefix}:relay:spend:${key.id}:${spendPeriod()}`;
      const before = await redis.get(counter);
      expect(Number(before)).to.be.above(0);
      const forwarded = h.fake.bodies.length;

      expect((await h.relay.api().delete(`/api/v1/me/api-keys/${key.id}`).set(user.auth)).status).to.equal(204);
      // Both start while the slow replica still holds the entry: a valid call and one whose body
      // the validator would refuse (authentication, and so the barrier, comes first).
      const [call, invalid] = await Promise.all([
        slow.app.api().post('/v1/chat/completions').set(key.auth).send(chat),
        slow.app.api().post('/v1/chat/completions').set(key.auth).send({ model: 'openai/gpt-4o-mini' }),
      ]);
      expectOpenAiError(call, 401, 'invalid_api_key');
      expectOpenAiError(invalid, 401, 'invalid_api_key');
      expect(h.fake.bodies.length, 'nothing reached the provider').to.equal(forwarded);
      await slow.app.container.relay.drain();
      expect(await redis.get(counter), 'the reservation was given back').to.equal(before);
      const logged = await privilegedDb()('relay_log').where({ api_key_id: key.id }).count<{ count: string }[]>({ count: '*' });
      expect(Number(logged[0].count), 'only the first call is logged and charged').to.equal(1);
    } finally {
      await slow.close();
    }
  });
});
