// /metrics is never open (issue 12, item 8): on the API port it needs the bearer token
// CUSTOS_METRICS_TOKEN (test/setup.ts sets one, as `npm start` does); with no token it is not
// served there at all; CUSTOS_METRICS_PORT serves it without a token on 127.0.0.1 only.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, isolatedApp } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { freePort } from '../support/ports.js';
import { expectProblem } from '../support/problems.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { loadOrCreateDevSecrets } from '../../src/platform/dev-secrets.js';
import { startServer } from '../../src/server.js';

const token = () => process.env.CUSTOS_METRICS_TOKEN!;
const bearer = (value: string) => ({ Authorization: `Bearer ${value}` });

describe('platform: /metrics', function () {
  this.timeout(60_000);

  it('with the token: request counts by route and queue gauges', async () => {
    await api().get('/readyz');
    const res = await api().get('/metrics').set(bearer(token()));
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain/);
    expect(res.text).to.match(/^custos_http_requests_total\{method="GET",route="\/readyz",status="200"\} \d+$/m);
    expect(res.text).to.match(/^custos_http_request_duration_seconds_bucket\{.*route="\/readyz"/m);
    expect(res.text).to.match(/^# TYPE custos_queue_jobs gauge$/m);
    // Every known queue is reported, whether or not this process has used it yet.
    for (const queue of ['audit', 'backups-run', 'backups-verify', 'privacy-export', 'privacy-deletion']) {
      expect(res.text).to.match(new RegExp(`^custos_queue_jobs\\{queue="${queue}",state="waiting"\\} \\d+$`, 'm'));
    }
  });

  it('401 without the token, with a wrong one (same length, shorter, longer) and with a user session', async () => {
    expect(token().length).to.be.greaterThanOrEqual(32);
    const missing = await api().get('/metrics');
    expectProblem(missing, 401);
    expect(missing.headers['www-authenticate']).to.equal('Bearer');
    expect(missing.text).not.to.include('custos_http_requests_total');
    const sameLength = `${token().slice(0, -1)}${token().endsWith('A') ? 'B' : 'A'}`;
    for (const wrong of [sameLength, token().slice(0, 10), `${token()}x`]) expectProblem(await api().get('/metrics').set(bearer(wrong)), 401);
    expectProblem(await api().get('/metrics').set('Authorization', `Basic ${Buffer.from(`x:${token()}`).toString('base64')}`), 401);
    const user = await createUser('metrics');
    expectProblem(await api().get('/metrics').set(user.auth), 401);
  });

  it('the metrics token is no session: it opens nothing else', async () => {
    expectProblem(await api().get('/api/v1/me').set(bearer(token())), 401);
    expectProblem(await api().get('/api/v1/staff/me').set(bearer(token())), 401);
  });

  describe('with no token configured', () => {
    let open: ReturnType<typeof isolatedApp>;
    before(() => { open = isolatedApp({ CUSTOS_METRICS_TOKEN: '' }); });
    after(async () => { await open?.close(); });

    it('is not served on the API port (404, with or without a bearer) and is absent from /openapi.json', async () => {
      expectProblem(await open.api().get('/metrics'), 404);
      expectProblem(await open.api().get('/metrics').set(bearer(token())), 404);
      const spec = await open.api().get('/openapi.json');
      expect(spec.status).to.equal(200);
      expect(spec.body.paths).not.to.have.property('/metrics');
      expect((await open.api().get('/healthz')).status).to.equal(200);
    });
  });

  it('CUSTOS_METRICS_PORT serves it without a token on 127.0.0.1 only, and nothing else', async () => {
    const metricsPort = await freePort();
    const config = loadConfig({ ...process.env, CUSTOS_METRICS_TOKEN: '', CUSTOS_METRICS_PORT: String(metricsPort), HOST: '127.0.0.1', PORT: '0' });
    const container = createContainer(config);
    const server = await startServer(container);
    try {
      expect(server.metricsUrl).to.equal(`http://127.0.0.1:${metricsPort}/metrics`);
      const scraped = await fetch(server.metricsUrl!);
      expect(scraped.status).to.equal(200);
      expect(await scraped.text()).to.match(/^# TYPE custos_queue_jobs gauge$/m);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).to.equal(404);
      expect((await fetch(server.metricsUrl!, { method: 'POST' })).status).to.equal(404);
      // The API port still does not serve it.
      expect((await fetch(`${server.url}/metrics`)).status).to.equal(404);
      // Bound to loopback only: another local address of this machine is not listening.
      const { networkInterfaces } = await import('node:os');
      const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
      if (other) {
        const refused = await fetch(`http://${other}:${metricsPort}/metrics`).then(() => 'answered', () => 'refused');
        expect(refused, other).to.equal('refused');
      }
    } finally {
      await server.close();
      await container.close();
    }
  });

  it('refuses a token shorter than 32 characters', () => {
    expect(() => loadConfig({ ...process.env, CUSTOS_METRICS_TOKEN: 'short-token' })).to.throw(ConfigError, /CUSTOS_METRICS_TOKEN/);
  });

  it('development secrets carry a metrics token, added to an older secrets file without touching the rest', () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-metrics-'));
    try {
      const fresh = loadOrCreateDevSecrets(join(dir, 'new.env'));
      expect(fresh.created).to.equal(true);
      expect(fresh.secrets.CUSTOS_METRICS_TOKEN).to.have.length.greaterThanOrEqual(32);

      const older = join(dir, 'old.env');
      const { CUSTOS_METRICS_TOKEN: _dropped, ...before } = fresh.secrets;
      writeFileSync(older, Object.entries(before).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
      const loaded = loadOrCreateDevSecrets(older);
      expect(loaded.created).to.equal(false);
      expect(loaded.secrets.CUSTOS_METRICS_TOKEN).to.have.length.greaterThanOrEqual(32);
      for (const [name, value] of Object.entries(before)) expect(loaded.secrets[name], name).to.equal(value);
      expect(readFileSync(older, 'utf8')).to.include(`CUSTOS_METRICS_TOKEN=${loaded.secrets.CUSTOS_METRICS_TOKEN}`);
      expect(loadOrCreateDevSecrets(older).secrets.CUSTOS_METRICS_TOKEN, 'stable across starts').to.equal(loaded.secrets.CUSTOS_METRICS_TOKEN);

      const env = { ...process.env, NODE_ENV: 'development', CUSTOS_METRICS_TOKEN: undefined };
      const config = loadConfig(env, loaded.secrets);
      expect(config.metricsToken).to.equal(loaded.secrets.CUSTOS_METRICS_TOKEN);
      expect(config.generatedSecrets).to.include('CUSTOS_METRICS_TOKEN');
      expect(loadConfig({ ...env, NODE_ENV: 'production' }, loaded.secrets).metricsToken, 'production never uses a generated token').to.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
