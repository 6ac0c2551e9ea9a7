// Operations without parameters or a body skip the request validator's ajv step when a request
// carries neither a query string nor a body (issue 15); anything else is still validated in full.
// A JSON body that is an operation's only input is checked by the library's compiled body
// validator directly, once the library has compiled it (issue 9); a body it refuses goes through
// the library's step, so the 400 is the same whichever way the body went.
import { expect } from 'chai';
import { api } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

const problemList = (problems: Array<Record<string, unknown>>) => new Set(problems.map((p) => String(p.detail)));

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

  it('a JSON body that is the only input is validated the same before and after its validator is compiled', async () => {
    const user = await createUser('validation-json');
    const post = (body: unknown) => api().post('/api/v1/me/api-keys').set(user.auth).set('Content-Type', 'application/json').send(JSON.stringify(body));
    const bad: unknown[] = [
      {},
      { name: 'ci', environment: 'staging' },
      { name: 'ci', environment: 'live', spendingLimitCents: -5 },
      { name: 'ci', environment: 'live', expiresAt: 'tomorrow' },
      { name: 'ci', environment: 'live', surprise: true },
      [],
    ];
    // The first requests compile the validator inside the library; the later ones use it directly.
    const first = [];
    for (const body of bad) first.push(expectProblem(await post(body), 400));
    const created = await post({ name: 'ci', environment: 'test', spendingLimitCents: '250' });
    expect(created.status, JSON.stringify(created.body)).to.equal(201);
    expect(created.body.spendingLimitCents, 'coerced as the library coerces it').to.equal(250);
    for (const [i, body] of bad.entries()) {
      const again = expectProblem(await post(body), 400);
      expect({ detail: again.detail, errors: again.errors }, JSON.stringify(body)).to.deep.equal({ detail: first[i].detail, errors: first[i].errors });
    }
    expect(problemList(first), 'each bad body is refused for what is wrong with it').to.have.length(bad.length);
  });
});
