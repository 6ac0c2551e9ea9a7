// Operations without parameters or a body skip the request validator's ajv step when a request
// carries neither a query string nor a body (issue 15); anything else is still validated in full.
import { expect } from 'chai';
import { api } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

describe('platform: validation of requests to parameterless operations', () => {
  it('an unknown query parameter is refused on /healthz and on an authenticated GET /api/v1/me', async () => {
    expect((await api().get('/healthz')).status).to.equal(200);
    const health = expectProblem(await api().get('/healthz?verbose=1'), 400);
    expect(JSON.stringify(health)).to.include('verbose');
    const user = await createUser('validation');
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(200);
    expectProblem(await api().get('/api/v1/me?fields=email').set(user.auth), 400);
    // Authentication before validation: without a token the same request is 401, not 400.
    expectProblem(await api().get('/api/v1/me?fields=email'), 401);
  });

  it('a body sent to an operation that takes none goes through the full validator', async () => {
    const user = await createUser('validation-body');
    const res = await api().post('/api/v1/auth/logout').set(user.auth).set('Content-Type', 'application/json').send('{"x":');
    expectProblem(res, 400);
  });
});
