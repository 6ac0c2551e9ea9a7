// What every response carries (security headers, a request id) and the operational endpoints:
// /healthz, /readyz, /docs and /openapi.json (/metrics: metrics.test.ts).
import { expect } from 'chai';
import { api } from '../support/app.js';
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
