// Re-authentication before an export or a deletion is rate limited like login: a stolen session
// must not let anyone guess the password (or TOTP) without limit. Counted per account, across
// both endpoints and login (one counter, so a lockout holds everywhere); a success resets it.
import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, totpCode, type TestUser } from '../support/accounts.js';

const exportWith = (user: TestUser, body: Record<string, unknown>) =>
  api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'rate limited passphrase', ...body });
const deletionWith = (user: TestUser, body: Record<string, unknown>) => api().post('/api/v1/me/deletion').set(user.auth).send(body);
const requestsOf = async (userId: string) => Number((await testContainer().platform.db('privacy_requests').where({ user_id: userId }).count('* as n'))[0].n);

describe('privacy: re-authentication guesses are rate limited', function () {
  this.timeout(60_000);
  const limit = () => testContainer().platform.config.loginLimits.perAccount;

  it('answers 429 with Retry-After after too many wrong passwords, even for the right one, for that account only', async () => {
    const victim = await createUser('reauth-guess');
    const bystander = await createUser('reauth-bystander');
    for (let i = 0; i < limit(); i += 1) {
      // Both endpoints feed the same per-account count.
      const res = i % 2 ? await deletionWith(victim, { password: `wrong-guess-${i}` }) : await exportWith(victim, { password: `wrong-guess-${i}` });
      expect(res.status, `guess ${i + 1}`).to.equal(401);
    }
    for (const res of [await exportWith(victim, { password: victim.password }), await deletionWith(victim, { password: victim.password })]) {
      expect(res.status, JSON.stringify(res.body)).to.equal(429);
      const retryAfter = Number(res.headers['retry-after']);
      expect(retryAfter).to.be.greaterThan(0);
      expect(retryAfter).to.be.at.most(testContainer().platform.config.loginLimits.windowSeconds);
      expect(res.headers['content-type']).to.contain('application/problem+json');
      expect(res.body).to.include({ status: 429, retryAfter });
    }
    expect(await requestsOf(victim.id), 'nothing was requested while limited').to.equal(0);

    expect((await exportWith(bystander, { password: bystander.password })).status).to.equal(202);
    // The same per-account counter as login: the lockout holds there too, so guesses cannot move
    // from one route to another.
    expect((await api().post('/api/v1/auth/login').send({ email: victim.email, password: victim.password })).status).to.equal(429);
  });

  it('a successful re-authentication resets the count', async () => {
    const user = await createUser('reauth-reset');
    for (let i = 0; i < limit() - 1; i += 1) expect((await exportWith(user, { password: `nope-${i}` })).status).to.equal(401);
    expect((await exportWith(user, { password: user.password })).status).to.equal(202);
    for (let i = 0; i < limit() - 1; i += 1) expect((await deletionWith(user, { password: `nope-again-${i}` })).status).to.equal(401);
    expect((await deletionWith(user, { password: user.password })).status).to.equal(202);
  });

  it('counts wrong TOTP codes, but not a missing one (the client is being told a code is needed)', async () => {
    const user = await createUser('reauth-totp');
    const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
    expect(enrol.status, JSON.stringify(enrol.body)).to.equal(201);
    const secret = enrol.body.secret as string;
    expect((await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: totpCode(secret) })).status).to.equal(200);

    for (let i = 0; i < limit() + 2; i += 1) {
      const missing = await exportWith(user, { password: user.password });
      expect(missing.status).to.equal(401);
      expect(missing.body.secondFactorRequired).to.equal(true);
    }
    const right = await exportWith(user, { password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(right.status, JSON.stringify(right.body)).to.equal(202);

    for (let i = 0; i < limit(); i += 1) {
      expect((await deletionWith(user, { password: user.password, totp: '000000' })).status, `wrong code ${i + 1}`).to.equal(401);
    }
    const limited = await deletionWith(user, { password: user.password, totp: totpCode(secret, Date.now() + 60_000) });
    expect(limited.status).to.equal(429);
    expect(Number(limited.headers['retry-after'])).to.be.greaterThan(0);
  });
});
