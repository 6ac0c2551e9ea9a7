// Parallel guesses must not walk past the throttle: the attempt is taken (atomically, in Redis)
// before the password or code is checked, so of N simultaneous wrong guesses at most the limit
// reach bcrypt or the TOTP check (401), the rest are refused (429), and once locked even the
// right credentials are refused. Reproduces issue 12 item 3 (100 parallel logins gave 99 × 401).
import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { api, testContainer } from '../support/app.js';
import { createUser, totpCode, type TestUser } from '../support/accounts.js';

const PARALLEL = 50;
const randomIp = () => `198.18.${randomInt(0, 255)}.${randomInt(1, 254)}`;
const statuses = (responses: Array<{ status: number }>) => {
  const count: Record<number, number> = {};
  for (const { status } of responses) count[status] = (count[status] ?? 0) + 1;
  return count;
};

async function enableTotp(user: TestUser): Promise<string> {
  const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
  expect(enrol.status, JSON.stringify(enrol.body)).to.equal(201);
  const secret = enrol.body.secret as string;
  const confirm = await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: totpCode(secret, Date.now() - 30_000) });
  expect(confirm.status, JSON.stringify(confirm.body)).to.equal(200);
  return secret;
}
const wrongCodeFor = (secret: string) => {
  const now = Date.now();
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpCode(secret, now + d)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
};

describe('accounts: throttles hold against parallel guesses', function () {
  this.timeout(120_000);
  const limit = () => testContainer().platform.config.loginLimits.perAccount;

  it(`${PARALLEL} parallel wrong passwords: at most the limit are checked, the rest 429; then the right one is 429`, async () => {
    const user = await createUser('race-login');
    const ip = randomIp();
    const guesses = await Promise.all(Array.from({ length: PARALLEL }, (_, i) =>
      api().post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ email: user.email, password: `wrong-password-${i}` })));
    const count = statuses(guesses);
    expect(count[401] ?? 0, JSON.stringify(count)).to.be.at.most(limit());
    expect(count[429] ?? 0, JSON.stringify(count)).to.equal(PARALLEL - (count[401] ?? 0));
    const right = await api().post('/api/v1/auth/login').set('X-Forwarded-For', ip).send({ email: user.email, password: user.password });
    expect(right.status, JSON.stringify(right.body)).to.equal(429);
    expect(Number(right.headers['retry-after'])).to.be.greaterThan(0);
  });

  it(`${PARALLEL} parallel wrong TOTP codes at the second step: at most the limit are checked; then the right code is 429`, async () => {
    const user = await createUser('race-totp');
    const secret = await enableTotp(user);
    const wrong = wrongCodeFor(secret);
    const guesses = await Promise.all(Array.from({ length: PARALLEL }, () =>
      api().post('/api/v1/auth/login').set('X-Forwarded-For', randomIp()).send({ email: user.email, password: user.password, totp: wrong })));
    const count = statuses(guesses);
    expect(count[401] ?? 0, JSON.stringify(count)).to.be.at.most(limit());
    expect(count[429] ?? 0, JSON.stringify(count)).to.equal(PARALLEL - (count[401] ?? 0));
    const right = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(right.status, JSON.stringify(right.body)).to.equal(429);
  });

  it(`${PARALLEL} parallel wrong passwords at the export's re-authentication: at most the limit are checked; then the right one is 429`, async () => {
    const user = await createUser('race-reauth');
    const guesses = await Promise.all(Array.from({ length: PARALLEL }, (_, i) =>
      api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'race passphrase words', password: `wrong-password-${i}` })));
    const count = statuses(guesses);
    expect(count[401] ?? 0, JSON.stringify(count)).to.be.at.most(limit());
    expect(count[429] ?? 0, JSON.stringify(count)).to.equal(PARALLEL - (count[401] ?? 0));
    for (const res of [
      await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase: 'race passphrase words', password: user.password }),
      await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password }),
    ]) expect(res.status, JSON.stringify(res.body)).to.equal(429);
    const requests = await testContainer().platform.db('privacy_requests').where({ user_id: user.id });
    expect(requests, 'nothing was requested').to.have.length(0);
  });

  it(`${PARALLEL} parallel wrong TOTP codes at the deletion's re-authentication: at most the limit are checked`, async () => {
    const user = await createUser('race-reauth-totp');
    const secret = await enableTotp(user);
    const wrong = wrongCodeFor(secret);
    const guesses = await Promise.all(Array.from({ length: PARALLEL }, () =>
      api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password, totp: wrong })));
    const count = statuses(guesses);
    expect(count[401] ?? 0, JSON.stringify(count)).to.be.at.most(limit());
    expect(count[429] ?? 0, JSON.stringify(count)).to.equal(PARALLEL - (count[401] ?? 0));
    const right = await api().post('/api/v1/me/deletion').set(user.auth).send({ password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(right.status, JSON.stringify(right.body)).to.equal(429);
  });
});
