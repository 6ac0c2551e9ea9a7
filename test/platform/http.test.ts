// What every response carries (security headers, a request id) and the operational endpoints:
// /healthz, /readyz, /docs and /openapi.json (/metrics: metrics.test.ts).
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appServerOptions } from '../../src/app.js';
import { api, isolatedApp, testApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

describe('platform: HTTP basics', () => {
  it('sends HSTS, nosniff, frame-ancestors none and no-store on success and error responses', async () => {
    for (const res of [await api().get('/healthz'), await api().get('/api/v1/me')]) {
      expect(res.headers['strict-transport-security']).to.match(/max-age=31536000; includeSubDomains/);
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['content-security-policy']).to.include("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).to.equal('SAMEORIGIN');
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.headers['x-powered-by']).to.equal(undefined);
    }
  });

  it('puts an X-Request-Id on every response, echoing a well-formed incoming one only', async () => {
    const generated = await api().get('/healthz');
    expect(generated.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    expect((await api().get('/healthz').set('X-Request-Id', 'trace-abc-12345')).headers['x-request-id']).to.equal('trace-abc-12345');
    const injected = await api().get('/healthz').set('X-Request-Id', 'bad id\twith<script>');
    expect(injected.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    const problem = expectProblem(await api().get('/nowhere').set('X-Request-Id', 'trace-err-12345'), 404);
    expect(problem.requestId).to.equal('trace-err-12345');
  });

  it('a server made with appServerOptions (as custos serve makes it) answers as one made with http.createServer(app), each app with its own settings', async () => {
    const other = isolatedApp({ CUSTOS_TRUST_PROXY: '1' });
    expect(appServerOptions(other.app).IncomingMessage).not.to.equal(appServerOptions(testApp()).IncomingMessage);
    const servers = [http.createServer(testApp()), http.createServer(appServerOptions(testApp()), testApp()), http.createServer(appServerOptions(other.app), other.app)];
    try {
      const answers = [];
      for (const server of servers) {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const seen = async (res: Response) => ({ status: res.status, headers: [...res.headers].filter(([name]) => !['date', 'x-request-id', 'etag'].includes(name)), body: (await res.text()).replace(/"requestId":"[^"]+"/, '') });
        answers.push([
          await seen(await fetch(`${base}/healthz`)),
          await seen(await fetch(`${base}/nowhere?x=1`)),
          await seen(await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' })),
        ]);
      }
      expect(answers[0][0].status).to.equal(200);
      expect(answers[0][1].status).to.equal(404);
      expect(answers[0][2].status).to.equal(400);
      expect(answers[1]).to.deep.equal(answers[0]);
      expect(answers[2]).to.deep.equal(answers[0]);
    } finally {
      for (const server of servers) server.close();
      await other.close();
    }
  });

  it('/healthz and /readyz', async () => {
    expect((await api().get('/healthz')).body).to.deep.equal({ status: 'ok' });
    const ready = await api().get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
  });

  it('/docs renders the reference from /openapi.json with its assets', async () => {
    const page = await api().get('/docs');
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.match(/^text\/html/);
    expect(page.text).to.include('swagger-ui');
    for (const src of [...page.text.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1])) {
      const asset = await api().get(src);
      expect(asset.status, src).to.equal(200);
      expect(asset.text.length, src).to.be.greaterThan(10);
    }
    expect((await api().get('/docs/assets/init.js')).text).to.include("'/openapi.json'");
    const spec = await api().get('/openapi.json');
    expect(spec.status).to.equal(200);
    expect(spec.body.openapi).to.match(/^3\.1/);
    expect(spec.body.paths['/api/v1/auth/login'].post.operationId).to.equal('loginUser');
    expectProblem(await api().get('/docs/assets/secret.txt'), 404);
  });
});
