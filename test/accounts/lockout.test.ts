// Brute-force limits: failed logins are counted per account and per client IP in Redis; past
// either limit login answers 429 with Retry-After, even with the right password.
import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser, uniqueEmail } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

const randomIp = () => `198.51.${randomInt(0, 255)}.${randomInt(1, 254)}`;

describe('accounts: login lockout', () => {
  it(`locks an account after CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT failures, with Retry-After`, async () => {
    const { perAccount, windowSeconds } = testContainer().platform.config.loginLimits;
    const user = await createUser();
    const bystander = await createUser('bystander');
    for (let i = 0; i < perAccount; i += 1) {
      // From different IPs: the account counter alone must trip.
      expectProblem(await api().post('/api/v1/auth/login').set('X-Forwarded-For', randomIp()).send({ email: user.email, password: `wrong-password-${i}` }), 401);
    }
    const locked = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    const body = expectProblem(locked, 429);
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).to.be.within(1, windowSeconds);
    expect(body.retryAfter).to.equal(retryAfter);
    // Others are not affected.
    expect((await api().post('/api/v1/auth/login').send({ email: bystander.email, password: bystander.password })).status).to.equal(200);
  });

  it('a successful login resets the account counter', async () => {
    const { perAccount } = testContainer().platform.config.loginLimits;
    const user = await createUser();
    const fail = () => api().post('/api/v1/auth/login').send({ email: user.email, password: 'wrong-password-x' });
    for (let i = 0; i < perAccount - 1; i += 1) expectProblem(await fail(), 401);
    expect((await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).to.equal(200);
    for (let i = 0; i < perAccount - 1; i += 1) expectProblem(await fail(), 401);
    expect((await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).to.equal(200);
  });

  describe('per client IP (X-Forwarded-For from a trusted loopback proxy)', () => {
    let limited: ReturnType<typeof isolatedApp>;
    before(() => { limited = isolatedApp({ CUSTOS_LOGIN_MAX_FAILURES_PER_IP: '3', CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' }); });
    after(() => limited?.close());

    it('blocks an IP after CUSTOS_LOGIN_MAX_FAILURES_PER_IP failures on any accounts, for users and staff', async () => {
      const user = await createUser();
      const attacker = randomIp();
      for (let i = 0; i < 3; i += 1) {
        expectProblem(await limited.api().post('/api/v1/auth/login').set('X-Forwarded-For', attacker).send({ email: uniqueEmail('victim'), password: 'guess-password-1' }), 401);
      }
      const blocked = await limited.api().post('/api/v1/auth/login').set('X-Forwarded-For', attacker).send({ email: user.email, password: user.password });
      expectProblem(blocked, 429);
      expect(Number(blocked.headers['retry-after'])).to.be.greaterThan(0);
      expectProblem(await limited.api().post('/api/v1/staff/auth/login').set('X-Forwarded-For', attacker).send({ email: uniqueEmail(), password: 'guess-password-1' }), 429);
      // The same account from another address is fine.
      expect((await limited.api().post('/api/v1/auth/login').set('X-Forwarded-For', randomIp()).send({ email: user.email, password: user.password })).status).to.equal(200);
    });
  });
});
