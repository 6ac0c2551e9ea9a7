// A session records the factors it proved (sessions.factors). Staff routes need a session that
// presented a TOTP code; a user with 2FA on needs one that presented a code; confirming or
// disabling TOTP ends every other session of the account (issue 12 item 5: a staff session
// opened before enrolment gained full staff access once TOTP was confirmed elsewhere).
import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, strongPassword, totpCode, uniqueEmail, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

const db = () => testContainer().platform.db;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const reason = { 'X-Access-Reason': 'support_request', 'X-Access-Justification': 'TICKET-1 session factors test' };
const factorsOf = async (sessionId: string) => (await db()('sessions').where({ id: sessionId }).first()).factors as string[];
/** Simulates a session that escaped revocation (a race, a restored row): the factor check alone must hold. */
const unrevoke = (sessionId: string) => db()('sessions').where({ id: sessionId }).update({ revoked_at: null });

async function staffBeforeEnrolment() {
  const email = uniqueEmail('factors-staff');
  const password = strongPassword();
  const account = await testContainer().accounts.createStaff(email, 'admin', password);
  const login = () => api().post('/api/v1/staff/auth/login').send({ email, password });
  const [early, enrolling] = [(await login()).body, (await login()).body];
  return { account, email, password, early, enrolling };
}

async function enrolAndConfirm(auth: Record<string, string>, prefix: '/api/v1/me' | '/api/v1/staff/me') {
  const enrol = await api().post(`${prefix}/2fa/totp`).set(auth);
  expect(enrol.status, JSON.stringify(enrol.body)).to.equal(201);
  const confirm = await api().post(`${prefix}/2fa/totp/confirm`).set(auth).send({ code: totpCode(enrol.body.secret, Date.now() - 30_000) });
  expect(confirm.status, JSON.stringify(confirm.body)).to.equal(200);
  return enrol.body.secret as string;
}

describe('accounts: sessions carry the factors they proved', function () {
  this.timeout(60_000);

  it('records password, totp or recovery_code per session', async () => {
    const user = await createUser('factors-record');
    const login = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    expect(await factorsOf(login.body.sessionId)).to.deep.equal(['password']);
    const other = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    const secret = await enrolAndConfirm(bearer(other.body.token), '/api/v1/me');
    expect(await factorsOf(other.body.sessionId), 'the confirming session presented a code').to.deep.equal(['password', 'totp']);
    const withCode = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(await factorsOf(withCode.body.sessionId)).to.deep.equal(['password', 'totp']);
  });

  it('staff: a session opened before enrolment never reaches staff routes once TOTP is confirmed elsewhere', async () => {
    const { account, early, enrolling } = await staffBeforeEnrolment();
    await enrolAndConfirm(bearer(enrolling.token), '/api/v1/staff/me');
    const target = await createUser('factors-target');

    // The confirming session presented a code: it reaches staff routes.
    expect((await api().get(`/api/v1/admin/users/${target.id}`).set(bearer(enrolling.token)).set(reason)).status).to.equal(200);
    // The early one was ended by the confirmation...
    expectProblem(await api().get(`/api/v1/admin/users/${target.id}`).set(bearer(early.token)).set(reason), 401);
    expect((await db()('sessions').where({ id: early.sessionId }).first()).revoked_at).to.not.equal(null);
    // ...and even if it had escaped revocation, it proved no TOTP: refused (and audited as such).
    await unrevoke(early.sessionId);
    const refused = expectProblem(await api().get(`/api/v1/admin/users/${target.id}`).set(bearer(early.token)).set(reason), 403);
    expect(String(refused.detail)).to.match(/TOTP/);
    expect(account.id).to.be.a('string');
  });

  it('users: sessions opened before 2FA was enabled end when it is confirmed, and would be refused anyway', async () => {
    const user: TestUser = await createUser('factors-user');
    const other = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
    await enrolAndConfirm(user.auth, '/api/v1/me');
    expect((await api().get('/api/v1/me').set(user.auth)).status, 'the confirming session goes on').to.equal(200);
    expectProblem(await api().get('/api/v1/me').set(bearer(other.body.token)), 401);
    await unrevoke(other.body.sessionId);
    const refused = expectProblem(await api().get('/api/v1/me').set(bearer(other.body.token)), 401);
    expect(String(refused.detail)).to.match(/two-factor/);
  });

  it('users: disabling TOTP ends every other session', async () => {
    const user = await createUser('factors-disable');
    const secret = await enrolAndConfirm(user.auth, '/api/v1/me');
    const second = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password, totp: totpCode(secret) });
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    const disabled = await api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(disabled.status, JSON.stringify(disabled.body)).to.equal(204);
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(200);
    expectProblem(await api().get('/api/v1/me').set(bearer(second.body.token)), 401);
  });
});
