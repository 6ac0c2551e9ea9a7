// Monthly spending limits: the worst-case cost is reserved atomically before a call and settled
// after, so 200 concurrent calls on a limited key overspend by at most one reservation; refusals
// are 402 in OpenAI's shape naming the limit and the month; the PostgreSQL ledger rebuilds the
// counter after Redis loses it; rotation does not reset a budget.
import { expect } from 'chai';
import OpenAI from 'openai';
import { createUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { spendPeriod } from '../../src/modules/relay/spend-limiter.js';
import { createKey, expectOpenAiError, startRelay, type CreatedKey, type RelayHarness, settled } from './support.js';

// Every call costs what it reserved: 100 output tokens of gpt-4o (1,000 micro-cents each) when
// max_tokens is 100, plus its input, so the limit is what bounds the number of calls.
const expensive = { model: 'openai/gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: '[[tokens:100]] spend' }] };
const db = () => testContainer().platform.db;
const loggedSpend = async (keyIds: string[]) => Number((await db()('relay_log').whereIn('api_key_id', keyIds).sum('cost_microcents as total').first())!.total ?? 0);

async function post(h: RelayHarness, key: CreatedKey, body: Record<string, unknown>) {
  const res = await fetch(`${h.baseUrl}/chat/completions`, { method: 'POST', headers: { ...key.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() as { error?: { code: string; message: string } } };
}

describe('relay: spending limits', function () {
  this.timeout(120_000);
  let h: RelayHarness;
  before(async () => { h = await startRelay({ DATABASE_POOL_MAX: '20' }); });
  after(async () => { await h.close(); });

  it('200 concurrent calls on a 1-cent key: overspend at most one reservation; refusals are 402 naming limit and month', async () => {
    const user = await createUser('spend-concurrent');
    const key = await createKey(h, user, { spendingLimitCents: 1 });
    const results = await Promise.all(Array.from({ length: 200 }, () => post(h, key, expensive)));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 402);
    expect(ok + refused.length, JSON.stringify(results.filter((r) => r.status !== 200 && r.status !== 402).slice(0, 3))).to.equal(200);
    expect(ok).to.be.greaterThan(0);
    expect(refused.length).to.be.greaterThan(150);
    expect(refused[0].body.error!.code).to.equal('spending_limit_reached');
    expect(refused[0].body.error!.message).to.include('1 cents').and.include(spendPeriod());
    await settled(h);
    const spent = await loggedSpend([key.id]);
    const oneReservation = 100 * 1_000 + 200 * 250; // output bound + a generous input bound
    expect(spent).to.be.at.most(1_000_000 + oneReservation);
    // The PostgreSQL ledger agrees with the log.
    expect(Number((await db()('relay_spend').where({ limit_group_id: key.id, period: spendPeriod() }).first()).spent_microcents)).to.equal(spent);
  });

  it('the SDK sees a 402 APIError with the code', async () => {
    const user = await createUser('spend-sdk');
    const key = await createKey(h, user, { spendingLimitCents: 0 });
    const client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
    const error = await client.chat.completions.create(expensive as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e) as InstanceType<typeof OpenAI.APIError>;
    expect(error).to.be.instanceOf(OpenAI.APIError);
    expect(error.status).to.equal(402);
    expect(error.code).to.equal('spending_limit_reached');
    expect(h.fake.bodies.some((b) => b.max_tokens === 100 && JSON.stringify(b).includes('spend-sdk'))).to.equal(false);
  });

  it('after Redis loses the counter, the PostgreSQL ledger still holds the limit', async () => {
    const user = await createUser('spend-redis-loss');
    const key = await createKey(h, user, { spendingLimitCents: 1 });
    for (let i = 0; i < 12; i++) await post(h, key, expensive);
    expect((await post(h, key, expensive)).status).to.equal(402);
    await settled(h);
    const { redis, config } = testContainer().platform;
    const counters = await redis.keys(`${config.queuePrefix}:relay:spend:${key.id}:*`);
    expect(counters).to.have.length(1);
    expect(Number(await redis.get(counters[0]))).to.be.greaterThan(0);
    await redis.del(...counters);
    expectOpenAiError(await h.relay.api().post('/v1/chat/completions').set(key.auth).send(expensive), 402, 'spending_limit_reached');
  });

  it('a rotated key spends against the same limit; test and live keys have their own', async () => {
    const user = await createUser('spend-rotate');
    const key = await createKey(h, user, { spendingLimitCents: 1 });
    for (let i = 0; i < 12; i++) await post(h, key, expensive);
    expect((await post(h, key, expensive)).status).to.equal(402);
    const rotated = await h.relay.api().post(`/api/v1/me/api-keys/${key.id}/rotate`).set(user.auth).send({ overlapSeconds: 0 });
    expect((await post(h, { ...key, auth: { Authorization: `Bearer ${rotated.body.key}` } }, expensive)).status).to.equal(402);
    const testKey = await createKey(h, user, { environment: 'test', spendingLimitCents: 1 });
    expect((await post(h, testKey, expensive)).status).to.equal(200);
    await settled(h);
    const list = await h.relay.api().get('/api/v1/me/api-keys').set(user.auth);
    const listed = list.body.items.find((k: { id: string }) => k.id === rotated.body.id);
    expect(listed.spentCents).to.be.greaterThan(0.5);
  });
});
