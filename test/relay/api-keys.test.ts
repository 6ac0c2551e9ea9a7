// Relay API keys as a customer sees them: shown once, stored only as a salted, peppered SHA-256,
// refused when malformed without a database lookup, revoked at once on every replica, rotated
// with an overlap, expiring, and kept apart from sessions in both directions.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { createKey, expectOpenAiError, startRelay, type RelayHarness } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('relay: API keys', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  before(async () => { h = await startRelay(); });
  after(async () => { await h.close(); });

  it('shows the key once, in the documented format, and lists only its prefix', async () => {
    const user = await createUser('keys');
    const created = await createKey(h, user, { name: 'ci', environment: 'test', spendingLimitCents: 500 });
    expect(created.key).to.match(/^cus_test_[0-9A-Za-z]{57}$/);
    expect(created.key.startsWith(created.prefix)).to.equal(true);
    const list = await h.relay.api().get('/api/v1/me/api-keys').set(user.auth);
    expect(list.status).to.equal(200);
    expect(list.body.items).to.have.length(1);
    expect(list.body.items[0]).to.include({ id: created.id, prefix: created.prefix, name: 'ci', environment: 'test', spendingLimitCents: 500, spentCents: 0 });
    expect(list.text).not.to.include(created.key.slice(17));
  });

  it('stores SHA-256(salt ‖ pepper ‖ key) and nothing from which the secret part can be read', async () => {
    const user = await createUser('keys-hash');
    const created = await createKey(h, user);
    const db = testContainer().platform.db;
    const row = await db('api_keys').where({ id: created.id }).first();
    const expected = createHash('sha256').update(row.salt).update(testContainer().platform.config.apiKeyPepper).update(created.key).digest();
    expect(Buffer.compare(row.key_hash, expected)).to.equal(0);
    expect(row.salt).to.have.length(16);
    const asText = JSON.stringify((await db.raw('SELECT k::text AS t FROM api_keys k WHERE id = ?', [created.id])).rows[0]);
    expect(asText).not.to.include(created.key.slice(17, 40));
  });

  it('a key authenticates /v1; a mistyped one is refused with 401 before any database lookup', async () => {
    const user = await createUser('keys-typo');
    const created = await createKey(h, user);
    expect((await h.relay.api().get('/v1/models').set(created.auth)).status).to.equal(200);
    const last = created.key.at(-1)!;
    const typo = created.key.slice(0, -1) + (last === 'a' ? 'b' : 'a');
    expectOpenAiError(await h.relay.api().get('/v1/models').set({ Authorization: `Bearer ${typo}` }), 401, 'invalid_api_key');
    // With PostgreSQL unreachable, a malformed key still gets 401 (no lookup was needed), while a
    // well-formed one gets 503 (its lookup was attempted): the checksum is checked first.
    const noDb = isolatedApp({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/custos_unreachable' });
    try {
      expectOpenAiError(await noDb.api().get('/v1/models').set({ Authorization: `Bearer ${typo}` }), 401, 'invalid_api_key');
      expectOpenAiError(await noDb.api().get('/v1/models').set(created.auth), 503);
    } finally {
      await noDb.close();
    }
  });

  it('revocation holds at once on every replica', async () => {
    const user = await createUser('keys-revoke');
    const created = await createKey(h, user);
    const replica = isolatedApp({});
    try {
      expect((await replica.api().get('/v1/models').set(created.auth)).status).to.equal(200);
      expect((await h.relay.api().delete(`/api/v1/me/api-keys/${created.id}`).set(user.auth)).status).to.equal(204);
      expectOpenAiError(await replica.api().get('/v1/models').set(created.auth), 401);
      expectOpenAiError(await h.relay.api().get('/v1/models').set(created.auth), 401);
      expectProblem(await h.relay.api().delete(`/api/v1/me/api-keys/${created.id}`).set(user.auth), 404);
    } finally {
      await replica.close();
    }
  });

  it("another user's key is 404 to revoke or rotate", async () => {
    const owner = await createUser('keys-owner');
    const other = await createUser('keys-other');
    const created = await createKey(h, owner);
    expectProblem(await h.relay.api().delete(`/api/v1/me/api-keys/${created.id}`).set(other.auth), 404);
    expectProblem(await h.relay.api().post(`/api/v1/me/api-keys/${created.id}/rotate`).set(other.auth).send({}), 404);
    expect((await h.relay.api().get('/v1/models').set(created.auth)).status).to.equal(200);
  });

  it('rotation: the old key works for the overlap, then stops; the new one works', async () => {
    const user = await createUser('keys-rotate');
    const old = await createKey(h, user, { spendingLimitCents: 100 });
    const rotated = await h.relay.api().post(`/api/v1/me/api-keys/${old.id}/rotate`).set(user.auth).send({ overlapSeconds: 1 });
    expect(rotated.status, rotated.text).to.equal(201);
    expect(rotated.body.key).to.match(/^cus_live_/).and.not.equal(old.key);
    expect(rotated.body.replaces.id).to.equal(old.id);
    expect(rotated.body.spendingLimitCents).to.equal(100);
    const fresh = { Authorization: `Bearer ${rotated.body.key}` };
    expect((await h.relay.api().get('/v1/models').set(old.auth)).status).to.equal(200);
    expect((await h.relay.api().get('/v1/models').set(fresh)).status).to.equal(200);
    expectProblem(await h.relay.api().post(`/api/v1/me/api-keys/${old.id}/rotate`).set(user.auth).send({}), 404);
    await sleep(1_200);
    expectOpenAiError(await h.relay.api().get('/v1/models').set(old.auth), 401);
    expect((await h.relay.api().get('/v1/models').set(fresh)).status).to.equal(200);
  });

  it('rotation with no overlap stops the old key at once', async () => {
    const user = await createUser('keys-rotate0');
    const old = await createKey(h, user);
    const rotated = await h.relay.api().post(`/api/v1/me/api-keys/${old.id}/rotate`).set(user.auth).send({ overlapSeconds: 0 });
    expect(rotated.status).to.equal(201);
    expectOpenAiError(await h.relay.api().get('/v1/models').set(old.auth), 401);
  });

  it('an expired key is refused', async () => {
    const user = await createUser('keys-expiry');
    const created = await createKey(h, user, { expiresAt: new Date(Date.now() + 1_000).toISOString() });
    expect((await h.relay.api().get('/v1/models').set(created.auth)).status).to.equal(200);
    await sleep(1_200);
    expectOpenAiError(await h.relay.api().get('/v1/models').set(created.auth), 401);
    expectProblem(await h.relay.api().post('/api/v1/me/api-keys').set(user.auth).send({ name: 'x', environment: 'live', expiresAt: new Date(Date.now() - 1000).toISOString() }), 409);
  });

  it('a relay key reaches nothing under /api/v1, and a session nothing under /v1', async () => {
    const user = await createUser('keys-apart');
    const created = await createKey(h, user);
    expectProblem(await api().get('/api/v1/me').set(created.auth), 401);
    expectProblem(await api().get('/api/v1/me/api-keys').set(created.auth), 401);
    expectOpenAiError(await h.relay.api().get('/v1/models').set(user.auth), 401, 'invalid_api_key');
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(user.auth).send({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), 401);
  });

  it('refuses invalid bodies with fields named, and unknown models in an allow-list', async () => {
    const user = await createUser('keys-invalid');
    expectProblem(await h.relay.api().post('/api/v1/me/api-keys').set(user.auth).send({ name: '', environment: 'staging' }), 400);
    expectProblem(await h.relay.api().post('/api/v1/me/api-keys').set(user.auth).send({ name: 'x', environment: 'test', models: ['openai/not-a-model'] }), 409);
  });
});
