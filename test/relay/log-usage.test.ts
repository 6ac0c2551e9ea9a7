// What the relay keeps: one closed metadata record per call (no column can hold text), the
// customer's usage per key, model and day, the charge on the credit ledger, and the purge of
// log rows past CUSTOS_RELAY_LOG_RETENTION_DAYS by the scheduled job.
import { expect } from 'chai';
import { createJobs } from '../../jobs/index.js';
import { createQueueConnection } from '../../src/platform/redis.js';
import type { Redis } from 'ioredis';
import { createUser } from '../support/accounts.js';
import { testContainer } from '../support/app.js';
import { createKey, startRelay, type RelayHarness, settled } from './support.js';

const ask = (content: string, model = 'openai/gpt-4o-mini') => ({ model, messages: [{ role: 'user', content }] });
const db = () => testContainer().platform.db;

describe('relay: log, usage and retention', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  before(async () => { h = await startRelay(); });
  after(async () => { await h.close(); });

  it('the relay log is a closed record: these columns and no other, none of them free text', async () => {
    const columns = (await db().raw(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'relay_log' ORDER BY column_name`)).rows;
    expect(Object.fromEntries(columns.map((c: { column_name: string; data_type: string }) => [c.column_name, c.data_type]))).to.deep.equal({
      api_key_id: 'uuid', at: 'timestamp with time zone', cached_tokens: 'integer', cost_microcents: 'bigint', environment: 'text', id: 'bigint',
      input_tokens: 'integer', latency_ms: 'integer', model: 'text', output_tokens: 'integer', provider: 'text', reason: 'text', status: 'integer', user_id: 'uuid',
    });
    // The text columns are closed by CHECK constraints: free text is refused by the database itself.
    const user = await createUser('relay-closed');
    const insert = (patch: Record<string, unknown>) => db()('relay_log').insert({ api_key_id: user.id, user_id: user.id, environment: 'live', provider: 'openai', model: 'openai/gpt-4o', status: 200, reason: 'ok', latency_ms: 1, ...patch });
    await insert({});
    for (const patch of [{ reason: 'the prompt was: hello' }, { model: 'openai/ hello world' }, { environment: 'prompt' }]) {
      const error = await insert(patch).then(() => null, (e: Error) => e);
      expect(error, JSON.stringify(patch)).to.be.instanceOf(Error);
    }
  });

  it('a call writes one record with tokens, latency and cost; usage shows it per key, model and day', async () => {
    const user = await createUser('relay-usage');
    const key = await createKey(h, user);
    const other = await createKey(h, user, { name: 'other' });
    for (let i = 0; i < 2; i++) expect((await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask('one two three'))).status).to.equal(200);
    expect((await h.relay.api().post('/v1/chat/completions').set(other.auth).send(ask('four', 'openai/gpt-4o'))).status).to.equal(200);
    await settled(h);
    const rows = await db()('relay_log').where({ user_id: user.id }).orderBy('id');
    expect(rows).to.have.length(3);
    expect(rows[0]).to.include({ api_key_id: key.id, environment: 'live', provider: 'openai', model: 'openai/gpt-4o-mini', status: 200, reason: 'ok', output_tokens: 7, cached_tokens: 2 });
    expect(rows[0].input_tokens).to.be.greaterThan(0);
    // 0.15 USD/1M input (0.075 cached), 0.6 USD/1M output → micro-cents per token ×100.
    const expectedCost = Math.ceil((rows[0].input_tokens - 2) * 15 + 2 * 7.5 + 7 * 60);
    expect(Number(rows[0].cost_microcents)).to.equal(expectedCost);

    const usage = await h.relay.api().get('/api/v1/me/usage').set(user.auth);
    expect(usage.status, usage.text).to.equal(200);
    const today = new Date().toISOString().slice(0, 10);
    const mine = usage.body.items.find((u: { apiKeyId: string }) => u.apiKeyId === key.id);
    expect(mine).to.deep.include({ day: today, model: 'openai/gpt-4o-mini', requests: 2, outputTokens: 14, cachedTokens: 4, environment: 'live' });
    expect(usage.body.items.find((u: { apiKeyId: string }) => u.apiKeyId === other.id)).to.deep.include({ model: 'openai/gpt-4o', requests: 1 });
    const keys = await h.relay.api().get('/api/v1/me/api-keys').set(user.auth);
    expect(keys.body.items.find((k: { id: string }) => k.id === key.id).spentCents).to.be.closeTo((2 * expectedCost) / 1e6, 0.01);
    expect(keys.body.items.find((k: { id: string }) => k.id === key.id).lastUsedAt).to.be.a('string');
    // The data export's share: keys without secrets, usage and log rows.
    const provider = h.relay.container.modules.find((m) => m.name === 'relay')!.personalData!;
    const exported: Record<string, unknown[]> = {};
    for (const c of provider.collections) {
      exported[c.name] = [];
      for await (const row of c.rows(user.id)) exported[c.name].push(row);
    }
    expect(exported.api_keys.map((k) => (k as { id: string }).id).sort()).to.deep.equal([key.id, other.id].sort());
    expect(JSON.stringify(exported.api_keys)).not.to.match(/hash|salt/i);
    expect(exported.relay_usage).to.have.length(2);
    expect(exported.relay_log).to.have.length(3);
    // Another user sees none of it.
    const stranger = await createUser('relay-usage-stranger');
    expect((await h.relay.api().get('/api/v1/me/usage').set(stranger.auth)).body.items).to.deep.equal([]);
  });

  it('usage is charged to the credit ledger in whole cents, the remainder carried to the next call', async () => {
    const user = await createUser('relay-ledger');
    const key = await createKey(h, user);
    // gpt-4o output: 10 USD per 1M tokens = 1,000 micro-cents per token; 150,000 tokens = 150 cents.
    expect((await h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask('[[tokens:150000]] x', 'openai/gpt-4o'))).status).to.equal(200);
    await settled(h);
    const ledger = await h.relay.api().get('/api/v1/me/transactions').set(user.auth);
    expect(ledger.status, ledger.text).to.equal(200);
    const usage = ledger.body.items.filter((t: { kind: string }) => t.kind === 'usage');
    expect(usage).to.have.length(1);
    expect(usage[0].amountCents).to.equal(-150);
    expect(usage[0].currency).to.equal('USD');
    const carry = await db()('relay_charge_carry').where({ user_id: user.id }).first();
    const logged = await db()('relay_log').where({ user_id: user.id }).sum('cost_microcents as total').first();
    expect(150 * 1_000_000 + Number(carry.carry_microcents)).to.equal(Number(logged!.total));
  });

  it('the scheduled job purges log rows past the retention window, keeps the rest', async () => {
    const user = await createUser('relay-retention');
    const row = { api_key_id: user.id, user_id: user.id, environment: 'live', provider: 'openai', model: 'openai/gpt-4o', status: 200, reason: 'ok', latency_ms: 1 };
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    await db()('relay_log').insert([{ ...row, at: days(8) }, { ...row, at: days(7.01) }, { ...row, at: days(6.9) }, { ...row, at: days(1) }]);
    expect(testContainer().relay.logRetentionDays).to.equal(7);
    expect((await testContainer().relay.oldestLogAt())!.getTime()).to.be.at.most(days(8).getTime() + 1000);

    const container = testContainer();
    const jobs = createJobs(container).find((j) => j.schedules?.some((s) => s.name === 'relay-log-retention'))!;
    const connections: Redis[] = [];
    const workers = jobs.workers!(() => { const c = createQueueConnection(container.platform.config.redisUrl); connections.push(c); return c; });
    try {
      const completed = new Promise((resolve) => workers[0].once('completed', resolve));
      await jobs.schedules!.find((s) => s.name === 'relay-log-retention')!.run();
      await completed;
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      for (const c of connections) c.disconnect();
    }
    const left = await db()('relay_log').where({ user_id: user.id }).orderBy('at');
    expect(left).to.have.length(2);
    expect(left[0].at.getTime()).to.be.greaterThan(days(7).getTime());
    const job = await container.platform.queues.queue('relay').getJobs(['completed']);
    expect(job.every((j) => JSON.stringify(j.data) === '{"task":"purge-log"}')).to.equal(true);
  });
});
