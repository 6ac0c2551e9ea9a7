// Staff and operators on the relay: the relay log read only with a reason, recorded in the audit
// trail before rows are returned (and refused when the trail cannot be written), user ids
// pseudonymised for support and admin; provider credentials stored AES-256-GCM at rest and used.
import { expect } from 'chai';
import OpenAI from 'openai';
import { createStaff, createUser, type TestStaff } from '../support/accounts.js';
import { api, testContainer } from '../support/app.js';
import { expectProblem } from '../support/problems.js';
import { reasonHeaders, trail } from '../audit/helpers.js';
import { createKey, startRelay, type RelayHarness, settled } from './support.js';

describe('relay: staff reads of the relay log and provider credentials', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let support: TestStaff;
  let security: TestStaff;
  let dpo: TestStaff;
  let admin: TestStaff;
  let userId: string;
  before(async () => {
    h = await startRelay();
    [support, security, dpo, admin] = await Promise.all([createStaff('support'), createStaff('security'), createStaff('dpo'), createStaff('admin')]);
    const user = await createUser('relay-staff');
    userId = user.id;
    const key = await createKey(h, user);
    expect((await h.relay.api().post('/v1/chat/completions').set(key.auth).send({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'staff-canary-prompt' }] })).status).to.equal(200);
    await settled(h);
  });
  after(async () => { await h.close(); });

  it('needs a reason (400, nothing returned) and the route’s roles', async () => {
    expectProblem(await api().get('/api/v1/admin/relay/log').set(support.auth), 400);
  });

  it('support sees pseudonyms, security sees ids; each read is in the trail with its reason', async () => {
    const asSupport = await api().get('/api/v1/admin/relay/log').query({ userId }).set(support.auth).set(reasonHeaders('TICKET-1 relay billing question'));
    expect(asSupport.status, asSupport.text).to.equal(200);
    expect(asSupport.body.userIds).to.equal('pseudonymised');
    expect(asSupport.body.items).to.have.length(1);
    expect(asSupport.body.items[0].user).to.match(/^user-[0-9a-f]{12}$/);
    expect(asSupport.text).not.to.include(userId);
    expect(asSupport.text).not.to.include('staff-canary-prompt');
    expect(asSupport.body.items[0]).to.include({ model: 'openai/gpt-4o-mini', status: 200, reason: 'ok', outputTokens: 7 });

    const asSecurity = await api().get('/api/v1/admin/relay/log').query({ userId }).set(security.auth).set({ 'X-Access-Reason': 'security_incident', 'X-Access-Justification': 'INC-7' });
    expect(asSecurity.status).to.equal(200);
    expect(asSecurity.body.items[0].user).to.equal(userId);

    const events = await trail(dpo, { action: 'admin.relay_log.read' });
    const mine = events.filter((e) => e.subjectUserId === userId);
    expect(mine.map((e) => e.reason).sort()).to.deep.equal(['security_incident', 'support_request']);
    expect(mine.find((e) => e.reason === 'support_request')!.justification).to.equal('TICKET-1 relay billing question');
  });

  it('fails closed: when the audit write fails, no row is returned', async () => {
    // The audit service's write fails (as when its database role cannot insert): the read is dropped.
    const audit = testContainer().audit;
    const original = audit.record;
    (audit as { record: typeof audit.record }).record = async () => { throw new Error('audit store down'); };
    try {
      const res = await api().get('/api/v1/admin/relay/log').query({ userId }).set(security.auth).set({ 'X-Access-Reason': 'security_incident', 'X-Access-Justification': 'INC-8' });
      expectProblem(res, 500);
      expect(res.text).not.to.include(userId);
    } finally {
      (audit as { record: typeof audit.record }).record = original;
    }
  });

  it('an admin stores a provider key: encrypted at rest, used for calls, never shown; support cannot', async () => {
    const stored = 'sk-operator-stored-credential-0123456789';
    expectProblem(await api().put('/api/v1/admin/relay/providers/openai/live').set(support.auth).send({ apiKey: stored }), 403);
    const put = await h.relay.api().put('/api/v1/admin/relay/providers/openai/live').set(admin.auth).send({ apiKey: stored });
    expect(put.status, put.text).to.equal(204);
    const row = await testContainer().platform.db('relay_provider_credentials').where({ provider: 'openai', environment: 'live' }).first();
    expect(row.api_key_enc.includes(Buffer.from(stored))).to.equal(false);
    expect(row.api_key_enc[0]).to.equal(0x01); // field-cipher v1 header: AES-256-GCM
    // A ciphertext moved to another row does not decrypt (associated data binds it to openai:live).
    await testContainer().platform.db('relay_provider_credentials').insert({ provider: 'xai', environment: 'live', api_key_enc: row.api_key_enc, updated_by: admin.id });
    const list = await h.relay.api().get('/api/v1/admin/relay/providers').set(admin.auth);
    expect(list.status, list.text).to.equal(200);
    expect(list.text).not.to.include(stored);
    expect(list.body.items.find((p: { provider: string }) => p.provider === 'openai').credentials).to.deep.equal({ live: 'stored', test: 'configuration' });

    const user = await createUser('relay-stored-cred');
    const key = await createKey(h, user);
    const client = new OpenAI({ apiKey: key.key, baseURL: h.baseUrl, maxRetries: 0 });
    await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(h.fake.authorizations.at(-1)).to.equal(`Bearer ${stored}`);
    const moved = await client.chat.completions.create({ model: 'xai/grok-3-mini', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e) as InstanceType<typeof OpenAI.APIError>;
    expect(moved.status, 'a moved ciphertext fails closed').to.be.oneOf([500, 503]);

    expect((await h.relay.api().delete('/api/v1/admin/relay/providers/xai/live').set(admin.auth)).status).to.equal(204);
    expect((await h.relay.api().delete('/api/v1/admin/relay/providers/openai/live').set(admin.auth)).status).to.equal(204);
    const events = await trail(dpo, { action: 'admin.relay.provider_credential.set' });
    expect(events.some((e) => e.detail === 'openai live')).to.equal(true);
    expect(JSON.stringify(events)).not.to.include(stored);
  });

  it('exposes what the trust centre needs: oldest log row, retention, providers with paid tier', async () => {
    const relay = testContainer().relay;
    expect(await relay.oldestLogAt()).to.be.instanceOf(Date);
    expect(relay.logRetentionDays).to.equal(7);
    const providers = await relay.providers();
    expect(providers.map((p) => p.provider)).to.deep.equal(['openai', 'anthropic', 'xai', 'google']);
    expect(providers.every((p) => typeof p.paidTier === 'boolean')).to.equal(true);
  });
});
