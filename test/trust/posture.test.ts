// The public posture: computed from the running system, signed over the exact bytes served,
// honest about stale evidence, cached briefly, anonymous and rate-limited.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { expectProblem } from '../support/problems.js';
import { requireTool, tempDir } from './support.js';

type Claim = { id: string; statement: string; value: unknown; status: string; source: string; evaluatedAt: string };
const claimOf = (body: { posture: { claims: Claim[] } }, id: string) => {
  const claim = body.posture.claims.find((c) => c.id === id);
  expect(claim, `claim ${id}`).to.not.equal(undefined);
  return claim!;
};

describe('trust: signed posture', function () {
  this.timeout(60_000);
  const db = () => testContainer().platform.db;
  const fresh = async () => {
    testContainer().trust.invalidatePosture();
    const res = await api().get('/api/v1/trust/posture');
    expect(res.status, res.text).to.equal(200);
    return res;
  };

  before(async () => {
    await db()('backup_runs').delete();
  });

  it('states every claim from the running system, anonymously and cacheably', async () => {
    // Earlier tests' events are sealed a moment after they are written: seal them now, so the
    // head the posture reports is the head read back below.
    await testContainer().audit.seal();
    const res = await fresh();
    expect(res.headers['cache-control']).to.match(/^public, max-age=\d+$/);
    const ids = res.body.posture.claims.map((c: Claim) => c.id);
    expect(ids).to.include.members([
      'passwords.bcrypt_cost', 'transport.tls_min_version', 'transport.hsts', 'encryption.at_rest', 'keys.outside_database',
      'backups.last_succeeded_at', 'backups.last_verified_at', 'keystore.backup_retention_days', 'audit.chain_head',
      'audit.last_verified_at', 'staff.mfa_enforced', 'relay.content_retained', 'relay.log_retention_days', 'providers',
    ]);
    const config = testContainer().platform.config;
    expect(claimOf(res.body, 'passwords.bcrypt_cost').value).to.equal(config.bcryptCost);
    expect(claimOf(res.body, 'transport.hsts').value).to.deep.equal({ maxAgeSeconds: config.hstsMaxAge, includeSubDomains: true });
    expect(claimOf(res.body, 'keystore.backup_retention_days').value).to.equal(config.backup.keystoreRetentionDays);
    const atRest = claimOf(res.body, 'encryption.at_rest').value as { algorithm: string; fields: string[] };
    expect(atRest.algorithm).to.equal('AES-256-GCM');
    expect(atRest.fields).to.include.members(['messages.content_enc', 'sessions.data_enc', 'users.totp_secret_enc', 'vulnerability_reports.description_enc']);
    expect(claimOf(res.body, 'staff.mfa_enforced')).to.include({ value: true, status: 'ok' });
    const head = claimOf(res.body, 'audit.chain_head').value as { seq: number; chainHash: string };
    const stored = await testContainer().audit.head();
    expect(head).to.deep.equal({ seq: stored.seq, chainHash: stored.chainHash.toString('hex') });
  });

  it('computes the relay claims from the relay: log schema closed, retention and oldest row, configured providers', async () => {
    let res = await fresh();
    const retained = claimOf(res.body, 'relay.content_retained');
    expect(retained).to.include({ value: false, status: 'ok', source: 'database schema (relay_log columns and CHECK constraints)' });
    const retention = claimOf(res.body, 'relay.log_retention_days').value as { days: number; oldestLogAt: string | null };
    expect(retention.days).to.equal(testContainer().platform.config.relay.logRetentionDays);
    expect(claimOf(res.body, 'providers').status).to.equal('ok');
    // Positive control: a column that could hold a prompt turns the claim, with its name.
    await privilegedDb().raw('ALTER TABLE relay_log ADD COLUMN posture_probe text');
    try {
      res = await fresh();
      const opened = claimOf(res.body, 'relay.content_retained');
      expect(opened).to.include({ value: true, status: 'missing' });
      expect(opened.statement).to.contain('posture_probe');
    } finally {
      await privilegedDb().raw('ALTER TABLE relay_log DROP COLUMN posture_probe');
    }
    expect(claimOf((await fresh()).body, 'relay.content_retained').value).to.equal(false);
  });

  it('signs the exact bytes of the posture as served: openssl pkeyutl -verify accepts them, and rejects a change', async function () {
    requireTool(this, 'openssl');
    const res = await fresh();
    const start = res.text.indexOf('{"posture":') + '{"posture":'.length;
    const end = res.text.indexOf(',"signature":');
    const served = res.text.slice(start, end);
    expect(served).to.equal(JSON.stringify(res.body.posture));
    const key = await api().get('/api/v1/signing-key').expect(200);
    const dir = tempDir();
    writeFileSync(join(dir, 'key.pem'), key.body.publicKeyPem);
    writeFileSync(join(dir, 'posture.json'), served);
    writeFileSync(join(dir, 'posture.sig'), Buffer.from(res.body.signature, 'base64'));
    const verify = () => spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, 'posture.json'), '-sigfile', join(dir, 'posture.sig')], { encoding: 'utf8' });
    const ok = verify();
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    writeFileSync(join(dir, 'posture.json'), served.replace(/bcrypt_cost","statement":"[^"]*","value":\d+/, (m) => m.replace(/\d+$/, '4')));
    expect(served).to.not.equal(readFileSync(join(dir, 'posture.json'), 'utf8'));
    expect(verify().status).to.not.equal(0);
  });

  it('says the backup evidence is stale when nothing succeeded or was verified in 48 hours, and ok once it is', async () => {
    let res = await fresh();
    expect(claimOf(res.body, 'backups.last_succeeded_at')).to.include({ status: 'missing', value: null });
    const threeDaysAgo = new Date(Date.now() - 72 * 3600_000);
    await db()('backup_runs').insert({ kind: 'data', status: 'succeeded', started_at: threeDaysAgo, finished_at: threeDaysAgo, verified_at: threeDaysAgo, verify_status: 'passed', verify_duration_ms: 10 });
    res = await fresh();
    for (const id of ['backups.last_succeeded_at', 'backups.last_verified_at']) {
      const claim = claimOf(res.body, id);
      expect(claim.status, id).to.equal('stale');
      expect(claim.statement, id).to.match(/in the last 48 hours/);
      expect(claim.value).to.equal(threeDaysAgo.toISOString());
    }
    const now = new Date();
    await db()('backup_runs').insert({ kind: 'data', status: 'succeeded', started_at: now, finished_at: now, verified_at: now, verify_status: 'passed', verify_duration_ms: 10 });
    res = await fresh();
    expect(claimOf(res.body, 'backups.last_succeeded_at')).to.include({ status: 'ok', value: now.toISOString() });
    expect(claimOf(res.body, 'backups.last_verified_at')).to.include({ status: 'ok', value: now.toISOString() });
  });

  it('cites the last end-to-end audit verification once one has run', async () => {
    let res = await fresh();
    expect(claimOf(res.body, 'audit.last_verified_at').status).to.be.oneOf(['missing', 'ok', 'stale']);
    await testContainer().platform.db('trust_evidence').delete();
    res = await fresh();
    expect(claimOf(res.body, 'audit.last_verified_at')).to.include({ status: 'missing', value: null });
    const outcome = await testContainer().trust.verifyAuditTrail();
    expect(outcome.ok, outcome.message).to.equal(true);
    res = await fresh();
    expect(claimOf(res.body, 'audit.last_verified_at').status).to.equal('ok');
  });

  it('sums the posture up in the overview, with links to every part', async () => {
    const posture = await fresh();
    const res = await api().get('/api/v1/trust');
    expect(res.status, res.text).to.equal(200);
    const counts = res.body.claims as Record<string, number>;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(posture.body.posture.claims.length);
    expect(res.body.links).to.include({ page: '/trust', posture: '/api/v1/trust/posture', securityTxt: '/.well-known/security.txt' });
  });

  it('caches the signed posture briefly: two reads in a row are the same document', async () => {
    const first = await fresh();
    const second = await api().get('/api/v1/trust/posture').expect(200);
    expect(second.body.posture.generatedAt).to.equal(first.body.posture.generatedAt);
    expect(second.body.signature).to.equal(first.body.signature);
  });

  describe('rate limit', () => {
    const limited = isolatedApp({ CUSTOS_TRUST_RATE_LIMIT_PER_MINUTE: '3', CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_trustrate_${process.pid}` });
    after(() => limited.close());

    it('answers 429 with Retry-After past the per-IP budget (counted in Redis)', async () => {
      const statuses: number[] = [];
      let refused;
      for (let i = 0; i < 7; i++) {
        const res = await limited.api().get('/api/v1/trust/posture');
        statuses.push(res.status);
        if (res.status === 429) refused = res;
      }
      expect(statuses).to.include(200);
      expect(refused, statuses.join(',')).to.not.equal(undefined);
      expectProblem(refused!, 429);
      expect(Number(refused!.headers['retry-after'])).to.be.within(1, 60);
    });
  });
});
