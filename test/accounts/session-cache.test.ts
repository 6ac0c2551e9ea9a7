// Two API replicas on one database, each answering repeated requests from its session cache
// (CUSTOS_SESSION_CACHE_TTL_MS): every change that can alter what a token resolves to, made by
// the other replica or by hand in SQL, is refused by the next request on both, and nothing is
// served from the cache while its change notifications are down.
import { expect } from 'chai';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { privilegedDb } from '../support/db.js';
import { expectProblem } from '../support/problems.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('accounts: cached sessions take every change at once, on every replica', function () {
  this.timeout(60_000);
  let other: ReturnType<typeof isolatedApp>;
  before(() => { other = isolatedApp({ CUSTOS_SESSION_CACHE_TTL_MS: '60000' }); });
  after(async () => { await other.close(); });

  const replicas = () => [
    { api, container: testContainer() },
    { api: other.api, container: other.container },
  ];
  /** Until both replicas answer `auth` from their caches (their notification connections are up). */
  async function cachedOnBoth(auth: Record<string, string>) {
    for (const { api: on, container } of replicas()) {
      const token = auth.Authorization.replace('Bearer ', '');
      for (let i = 0; ; i += 1) {
        expect((await on().get('/api/v1/me').set(auth)).status).to.equal(200);
        if (container.accounts.isSessionCached('user', token)) break;
        if (i > 100) throw new Error('the session cache never came up');
        await sleep(50);
      }
      expect((await on().get('/api/v1/me').set(auth)).status).to.equal(200);
    }
  }
  const expectRefusedOnBoth = async (auth: Record<string, string>, status: number) => {
    for (const { api: on } of replicas()) expectProblem(await on().get('/api/v1/me').set(auth), status);
  };

  let user: TestUser;
  beforeEach(async () => {
    user = await createUser('cache');
    await cachedOnBoth(user.auth);
  });

  it('a logout on one replica is refused by the other on the next request', async () => {
    expect((await other.api().post('/api/v1/auth/logout').set(user.auth)).status).to.equal(204);
    await expectRefusedOnBoth(user.auth, 401);
  });

  it('a session revoked, or its owner locked, by hand in SQL is refused at once', async () => {
    await privilegedDb()('sessions').where({ user_id: user.id }).update({ revoked_at: privilegedDb().fn.now() });
    await expectRefusedOnBoth(user.auth, 401);

    const second = await createUser('cache-lock');
    await cachedOnBoth(second.auth);
    await privilegedDb()('users').where({ id: second.id }).update({ status: 'locked' });
    await expectRefusedOnBoth(second.auth, 401);
  });

  it('an account scheduled for deletion by hand is limited at once (the cached principal is not reused)', async () => {
    await privilegedDb()('users').where({ id: user.id }).update({ status: 'pending_deletion' });
    for (const { api: on } of replicas()) expectProblem(await on().get('/api/v1/me/sessions').set(user.auth), 403);
  });

  it('a crypto-shredded data key ends the cached session on the replica that shredded it', async () => {
    // Other replicas keep an unwrapped key up to the key store's own cache TTL, with or without this cache.
    expect(await testContainer().platform.keyStore.destroySubjectKey(user.id)).to.equal(true);
    expectProblem(await api().get('/api/v1/me').set(user.auth), 401);
  });

  it('while the notification connection is down nothing is served from the cache, and it comes back', async () => {
    await privilegedDb().raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'custos-notifications' AND datname = current_database()`);
    await privilegedDb()('sessions').where({ user_id: user.id }).update({ revoked_at: privilegedDb().fn.now() });
    await expectRefusedOnBoth(user.auth, 401);
    const again = await createUser('cache-again');
    await cachedOnBoth(again.auth);
  });
});
