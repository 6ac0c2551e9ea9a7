// TOTP two-factor (RFC 6238) with codes computed outside the app: by the otpauth library and by
// the oathtool binary (GNU oath-toolkit).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { api, testContainer } from '../support/app.js';
import { createUser, totpCode, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { requireTool } from '../support/tools.js';

/** oathtool's code for `secret` at `time` (ms). */
function oathtool(secret: string, time = Date.now()): string {
  return execFileSync('oathtool', ['--totp', '-b', '-N', `@${Math.floor(time / 1000)}`, secret], { encoding: 'utf8' }).trim();
}

async function enableTotp(user: TestUser) {
  const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
  expect(enrol.status, JSON.stringify(enrol.body)).to.equal(201);
  const secret = enrol.body.secret as string;
  // Confirm with the previous step's code so the current step stays free for a login.
  const confirm = await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: totpCode(secret, Date.now() - 30_000) });
  expect(confirm.status, JSON.stringify(confirm.body)).to.equal(200);
  return { secret, otpauthUri: enrol.body.otpauthUri as string, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

const login = (user: TestUser, extra: Record<string, string> = {}) =>
  api().post('/api/v1/auth/login').send({ email: user.email, password: user.password, ...extra });

describe('accounts: TOTP two-factor', () => {
  it('enrols with a base32 secret and an otpauth:// URI naming issuer and account', async () => {
    const user = await createUser();
    const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
    expect(enrol.status).to.equal(201);
    expect(enrol.body.secret).to.match(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrol.body.otpauthUri);
    expect(uri.protocol).to.equal('otpauth:');
    expect(uri.host).to.equal('totp');
    expect(uri.searchParams.get('secret')).to.equal(enrol.body.secret);
    expect(uri.searchParams.get('issuer')).to.equal('Custos');
    expect(decodeURIComponent(uri.pathname)).to.include(user.email);
    // Not on until confirmed: login still works with the password alone.
    expect((await login(user)).status).to.equal(200);
    // A wrong confirmation code is a 400 naming the field.
    const wrong = expectProblem(await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: '000000' === totpCode(enrol.body.secret) ? '111111' : '000000' }), 400);
    expect((wrong.errors as Array<{ field: string }>)[0].field).to.equal('body.code');
  });

  it('then needs a code at login; oathtool\'s code works once, a replay is refused, the next step works', async function () {
    requireTool(this, 'oathtool');
    const user = await createUser();
    const { secret } = await enableTotp(user);
    expect((await api().get('/api/v1/me').set(user.auth)).body.twoFactor).to.deep.equal({ totp: true, recoveryCodesRemaining: 10 });

    const missing = expectProblem(await login(user), 401);
    expect(missing.secondFactorRequired).to.equal(true);

    const now = Date.now();
    const code = oathtool(secret, now);
    expect(code, 'oathtool and otpauth agree').to.equal(totpCode(secret, now));
    const ok = await login(user, { totp: code });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    const sessions = await api().get('/api/v1/me/sessions').set({ Authorization: `Bearer ${ok.body.token}` });
    expect(sessions.body.items.find((s: { current: boolean }) => s.current).secondFactor).to.equal('totp');

    expectProblem(await login(user, { totp: code }), 401);
    const next = await login(user, { totp: oathtool(secret, now + 30_000) });
    expect(next.status, 'a code one step ahead is within the drift window').to.equal(200);
    expectProblem(await login(user, { totp: oathtool(secret, now + 120_000) }), 401);
  });

  it('accepts each recovery code exactly once', async () => {
    const user = await createUser();
    const { recoveryCodes } = await enableTotp(user);
    expect(recoveryCodes).to.have.length(10);
    expect(new Set(recoveryCodes).size).to.equal(10);
    const first = await login(user, { recoveryCode: recoveryCodes[0].toUpperCase() });
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expectProblem(await login(user, { recoveryCode: recoveryCodes[0] }), 401);
    const me = await api().get('/api/v1/me').set({ Authorization: `Bearer ${first.body.token}` });
    expect(me.body.twoFactor.recoveryCodesRemaining).to.equal(9);
    // Another account's code is not this account's.
    const other = await createUser('other');
    const otherCodes = (await enableTotp(other)).recoveryCodes;
    expectProblem(await login(user, { recoveryCode: otherCodes[0] }), 401);
    // Codes are stored hashed: no code appears in the table.
    const rows = await testContainer().platform.db('recovery_codes').where({ user_id: user.id });
    expect(rows).to.have.length(10);
    for (const code of recoveryCodes) expect(JSON.stringify(rows)).not.to.include(code.replace('-', ''));
  });

  it('disables only with the password and a valid code', async () => {
    const user = await createUser();
    const { secret } = await enableTotp(user);
    const now = Date.now();
    const good = totpCode(secret, now);
    const bad = good === '123456' ? '654321' : '123456';
    expectProblem(await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: 'not-the-password', totp: good }), 401);
    expectProblem(await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: bad }), 401);
    expectProblem(await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password }), 401);
    expect((await api().get('/api/v1/me').set(user.auth)).body.twoFactor.totp, 'still on after failed attempts').to.equal(true);

    expect((await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: good })).status).to.equal(204);
    expect((await login(user)).status, 'password alone works again').to.equal(200);
    expect((await api().get('/api/v1/me').set(user.auth)).body.twoFactor).to.deep.equal({ totp: false, recoveryCodesRemaining: 0 });
    expect(await testContainer().platform.db('recovery_codes').where({ user_id: user.id })).to.have.length(0);
    expectProblem(await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: good }), 409);
  });

  it('refuses a second enrolment while TOTP is on', async () => {
    const user = await createUser();
    await enableTotp(user);
    expectProblem(await api().post('/api/v1/me/2fa/totp').set(user.auth), 409);
  });
});
