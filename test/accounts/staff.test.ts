// Staff accounts: created only by `custos staff create` (the real CLI), TOTP mandatory before
// any staff route but enrolment, and separate from user accounts in both directions.
import { expect } from 'chai';
import { api } from '../support/app.js';
import { createStaff, createUser, strongPassword, totpCode, uniqueEmail } from '../support/accounts.js';
import { runCli } from '../support/cli.js';
import { expectProblem } from '../support/problems.js';
import { listOperations, loadOpenApi } from '../../src/platform/http/openapi.js';

const staffLogin = (email: string, password: string, extra: Record<string, string> = {}) =>
  api().post('/api/v1/staff/auth/login').send({ email, password, ...extra });

describe('accounts: staff', function () {
  this.timeout(60_000);

  it('`custos staff create --email --role --password` creates a staff member who must enrol TOTP', async () => {
    const email = uniqueEmail('cli-staff');
    const password = strongPassword();
    const created = await runCli(['staff', 'create', '--email', email, '--role', 'security', '--password', password]);
    expect(created.code, created.stderr).to.equal(0);
    expect(created.stdout).to.match(new RegExp(`created staff ${email} \\([0-9a-f-]{36}\\) with role security`));
    expect(created.stdout, 'a given password is never echoed').not.to.include(password);

    const first = await staffLogin(email, password);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.totpEnrolmentRequired).to.equal(true);
    const enrolAuth = { Authorization: `Bearer ${first.body.token}` };
    const me = await api().get('/api/v1/staff/me').set(enrolAuth);
    expect(me.body).to.include({ email, role: 'security', totpConfirmed: false });

    // A staff email is not a user account, and a second create is refused.
    expectProblem(await api().post('/api/v1/auth/login').send({ email, password }), 401);
    const again = await runCli(['staff', 'create', '--email', email, '--role', 'dpo', '--password', strongPassword()]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/exists already/);

    const enrol = await api().post('/api/v1/staff/me/2fa/totp').set(enrolAuth);
    expect(enrol.status).to.equal(201);
    const confirm = await api().post('/api/v1/staff/me/2fa/totp/confirm').set(enrolAuth).send({ code: totpCode(enrol.body.secret, Date.now() - 30_000) });
    expect(confirm.status).to.equal(200);
    expectProblem(await staffLogin(email, password), 401);
    const full = await staffLogin(email, password, { totp: totpCode(enrol.body.secret) });
    expect(full.status).to.equal(200);
    expect(full.body.totpEnrolmentRequired).to.equal(false);
  });

  it('prints a one-time password when --password is absent and stdin is not a terminal', async () => {
    const email = uniqueEmail('otp-staff');
    const created = await runCli(['staff', 'create', '--email', email, '--role', 'support']);
    expect(created.code, created.stderr).to.equal(0);
    const match = /one-time password: (\S+)/.exec(created.stdout);
    expect(match, created.stdout).to.not.equal(null);
    expect((await staffLogin(email, match![1])).status).to.equal(200);
  });

  it('refuses an unknown role and a weak password with a message, exit code 1', async () => {
    const badRole = await runCli(['staff', 'create', '--email', uniqueEmail(), '--role', 'root', '--password', strongPassword()]);
    expect(badRole.code).to.not.equal(0);
    expect(badRole.stderr).to.match(/support, dpo, security, admin/);
    const weak = await runCli(['staff', 'create', '--email', uniqueEmail(), '--role', 'dpo', '--password', 'short']);
    expect(weak.code).to.equal(1);
    expect(weak.stderr).to.match(/at least 12 characters/);
  });

  it('an unconfirmed staff token reaches only enrolment routes; staffSession routes refuse it with 403', async () => {
    const email = uniqueEmail('unconfirmed');
    const password = strongPassword();
    expect((await runCli(['staff', 'create', '--email', email, '--role', 'admin', '--password', password])).code).to.equal(0);
    const token = (await staffLogin(email, password)).body.token as string;
    const doc = loadOpenApi();
    const staffOnly = listOperations(doc).filter((op) => (op.operation.security ?? []).some((r) => 'staffSession' in r)
      && !(op.operation.security ?? []).some((r) => 'staffEnrolment' in r));
    for (const op of staffOnly) {
      const path = op.expressPath.replace(/:[^/]+/g, '00000000-0000-4000-8000-000000000000');
      const res = await api()[op.method](path).set({ Authorization: `Bearer ${token}` });
      const body = expectProblem(res, 403);
      expect(String(body.detail)).to.match(/TOTP/);
    }
    // The same token does reach the enrolment routes.
    expect((await api().post('/api/v1/staff/me/2fa/totp').set({ Authorization: `Bearer ${token}` })).status).to.equal(201);
  });

  it('keeps user and staff tokens apart', async () => {
    const user = await createUser();
    const staff = await createStaff('dpo');
    expectProblem(await api().get('/api/v1/staff/me').set(user.auth), 401);
    expectProblem(await api().get('/api/v1/me').set(staff.auth), 401);
    expect((await api().post('/api/v1/staff/auth/logout').set(staff.auth)).status).to.equal(204);
    expectProblem(await api().get('/api/v1/staff/me').set(staff.auth), 401);
  });
});
