// Registration is rate limited per client IP and per email (issue 12 item 7: 30 tries at an
// existing email all answered 409, none 429). Custos keeps the explicit "exists already" answer
// for usability and bounds how fast anyone can ask it; see the README's "Registration limits".
import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { createUser, strongPassword, uniqueEmail } from '../support/accounts.js';
import { isolatedApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

const randomIp = () => `10.${randomInt(0, 255)}.${randomInt(0, 255)}.${randomInt(1, 254)}`;
const WINDOW = 600;

describe('accounts: registration limits', function () {
  this.timeout(60_000);
  let limited: ReturnType<typeof isolatedApp>;
  before(() => {
    limited = isolatedApp({ CUSTOS_REGISTER_MAX_PER_IP: '3', CUSTOS_REGISTER_MAX_PER_EMAIL: '2', CUSTOS_REGISTER_WINDOW_SECONDS: String(WINDOW) });
  });
  after(() => limited?.close());
  const register = (ip: string, email: string, password = strongPassword()) =>
    limited.api().post('/api/v1/auth/register').set('X-Forwarded-For', ip).send({ email, password });

  it('per IP: past CUSTOS_REGISTER_MAX_PER_IP attempts in the window, 429 with Retry-After; other addresses are not affected', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i += 1) expect((await register(ip, uniqueEmail('reg-ip'))).status).to.equal(201);
    const refused = await register(ip, uniqueEmail('reg-ip'));
    const body = expectProblem(refused, 429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).to.be.within(1, WINDOW);
    expect(body.retryAfter).to.equal(retryAfter);
    expect((await register(randomIp(), uniqueEmail('reg-ip'))).status).to.equal(201);
  });

  it('per email: probing one address is limited, from any number of addresses', async () => {
    const existing = await createUser('reg-probed');
    const answers = [];
    for (let i = 0; i < 30; i += 1) answers.push((await register(randomIp(), existing.email)).status);
    // The registration that created the account was the email's first attempt of the window.
    expect(answers[0]).to.equal(409);
    expect(answers.slice(1).every((s) => s === 429), JSON.stringify(answers)).to.equal(true);
  });

  it('parallel attempts from one IP cannot walk past the limit', async () => {
    const ip = randomIp();
    const answers = await Promise.all(Array.from({ length: 20 }, () => register(ip, uniqueEmail('reg-race'))));
    const created = answers.filter((r) => r.status === 201).length;
    expect(created, JSON.stringify(answers.map((r) => r.status))).to.equal(3);
    expect(answers.filter((r) => r.status === 429)).to.have.length(17);
  });

  it('a refused password (400) spends no attempt, so a person fixing their password is not locked out', async () => {
    const ip = randomIp();
    const email = uniqueEmail('reg-weak');
    for (let i = 0; i < 5; i += 1) expectProblem(await register(ip, email, 'short-pw'), 400);
    expect((await register(ip, email)).status).to.equal(201);
  });
});
