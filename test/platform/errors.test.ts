// Every error is an RFC 9457 problem matching the spec's Problem schema: 400 (each bad field),
// 401, 403, 404, 413, 429 (see accounts/lockout), and 503 when PostgreSQL or Redis is down —
// never a stack trace, SQL text or driver message.
import { expect } from 'chai';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { freePort } from '../support/ports.js';
import { expectProblem, problemFields } from '../support/problems.js';

describe('platform: problem+json errors', () => {
  it('404 for an unknown route', async () => {
    const body = expectProblem(await api().get('/api/v1/no-such-thing'), 404);
    expect(body.type).to.equal('urn:custos:problem:not-found');
    expect(body.instance).to.equal('/api/v1/no-such-thing');
  });

  it('routes by the OpenAPI document: 405 for another method of a known path (before authentication), a trailing slash ignored, 400 for a malformed path parameter', async () => {
    const wrongMethod = expectProblem(await api().put('/api/v1/me/sessions'), 405);
    expect(wrongMethod.type).to.equal('urn:custos:problem:method-not-allowed');
    expectProblem(await api().patch('/healthz'), 405);
    expect((await api().get('/healthz/')).body).to.deep.equal({ status: 'ok' });
    expect((await api().get('/HealthZ')).body, 'paths match without regard to case').to.deep.equal({ status: 'ok' });
    // The literal /api/v1/me beats any parameter at that position: a session is asked for, not an id.
    expectProblem(await api().get('/api/v1/me/'), 401);
    const malformed = expectProblem(await api().get('/docs/assets/%E0%A4%A'), 400);
    expect(JSON.stringify(malformed)).not.to.match(/URIError|at [A-Za-z]+ \(/);
  });

  it('400 for malformed JSON and for schema violations, listing each field', async () => {
    expectProblem(await api().post('/api/v1/auth/login').set('Content-Type', 'application/json').send('{"email": '), 400);
    const body = expectProblem(await api().post('/api/v1/auth/login').send({ email: 'x', password: '', totp: 'abc', bogus: true }), 400);
    const fields = problemFields(body);
    for (const field of ['body.email', 'body.password', 'body.totp']) expect(fields, JSON.stringify(body)).to.include(field);
    expect(fields.length).to.be.greaterThanOrEqual(4);
  });

  it('401 with WWW-Authenticate for a missing or invalid token', async () => {
    const missing = await api().get('/api/v1/me');
    expectProblem(missing, 401);
    expect(missing.headers['www-authenticate']).to.equal('Bearer');
    expectProblem(await api().get('/api/v1/me').set('Authorization', 'Bearer cst_forged'), 401);
    expectProblem(await api().get('/api/v1/me').set('Authorization', 'Basic Zm9vOmJhcg=='), 401);
  });

  it('403 for a locked account', async () => {
    const user = await createUser();
    await testContainer().platform.db('users').where({ id: user.id }).update({ status: 'locked' });
    const body = expectProblem(await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password }), 403);
    expect(body.type).to.equal('urn:custos:problem:forbidden');
  });

  it('413 for a body larger than CUSTOS_BODY_LIMIT_BYTES', async () => {
    const limit = testContainer().platform.config.bodyLimitBytes;
    const body = expectProblem(await api().post('/api/v1/auth/login').send({ email: 'a@b.test', password: 'x'.repeat(limit + 10) }), 413);
    expect(String(body.detail)).to.include(String(limit));
    // Just under the limit is read (and then refused by validation, not by size).
    expectProblem(await api().post('/api/v1/auth/login').send({ email: 'a@b.test', password: 'x'.repeat(limit - 100) }), 400);
  });

  describe('503 when a dependency is down', function () {
    this.timeout(60_000);
    let noPostgres: ReturnType<typeof isolatedApp>;
    let noRedis: ReturnType<typeof isolatedApp>;
    before(async () => {
      noPostgres = isolatedApp({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/custos` });
      noRedis = isolatedApp({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    });
    after(async () => {
      await noPostgres?.close();
      await noRedis?.close();
    });

    it('PostgreSQL down: login and authenticated routes answer 503 with Retry-After; /readyz says which', async () => {
      const login = await noPostgres.api().post('/api/v1/auth/login').send({ email: 'someone@example.test', password: 'whatever-password' });
      const body = expectProblem(login, 503);
      expect(String(body.detail)).to.match(/PostgreSQL/);
      expect(Number(login.headers['retry-after'])).to.be.greaterThan(0);
      expectProblem(await noPostgres.api().get('/api/v1/me').set('Authorization', 'Bearer cst_anything'), 503);
      const ready = await noPostgres.api().get('/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body).to.deep.equal({ status: 'unavailable', checks: { postgres: 'down', redis: 'up' } });
      expect((await noPostgres.api().get('/healthz')).status, 'liveness does not depend on PostgreSQL').to.equal(200);
    });

    it('Redis down: login answers 503 promptly; /readyz says which', async () => {
      const started = Date.now();
      const body = expectProblem(await noRedis.api().post('/api/v1/auth/login').send({ email: 'someone@example.test', password: 'whatever-password' }), 503);
      expect(Date.now() - started).to.be.lessThan(5_000);
      expect(String(body.detail)).to.match(/Redis/);
      const ready = await noRedis.api().get('/readyz');
      expect(ready.status).to.equal(503);
      expect(ready.body).to.deep.equal({ status: 'unavailable', checks: { postgres: 'up', redis: 'down' } });
    });
  });
});
