// Staff accounts: created only by `custos staff create` (the real CLI), TOTP mandatory before
// any staff route but enrolment, and separate from user accounts in both directions.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { api } from '../support/app.js';
import { createStaff, createUser, strongPassword, totpCode, uniqueEmail } from '../support/accounts.js';
import { runCli } from '../support/cli.js';
import { expectProblem } from '../support/problems.js';
import { listOperations, loadOpenApi } from '../../src/platform/http/openapi.js';
import { requireTool } from '../support/tools.js';

const staffLogin = (email: string, password: string, extra: Record<string, string> = {}) =>
  api().post('/api/v1/staff/auth/login').send({ email, password, ...extra });

describe('accounts: staff', function () {
  this.timeout(60_000);

  it('`custos staff create --email --role --password-stdin` reads the password from stdin; the staff member must enrol TOTP', async () => {
    const email = uniqueEmail('cli-staff');
    const password = strongPassword();
    const created = await runCli(['staff', 'create', '--email', email, '--role', 'security', '--password-stdin'], { input: `${password}\n` });
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
    const again = await runCli(['staff', 'create', '--email', email, '--role', 'dpo', '--password-stdin'], { input: strongPassword() });
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

  it('refuses a password in argv (visible in ps) and names --password-stdin; nothing is created', async () => {
    const email = uniqueEmail('argv-staff');
    const password = strongPassword();
    for (const args of [['--password', password], [`--password=${password}`]]) {
      const refused = await runCli(['staff', 'create', '--email', email, '--role', 'dpo', ...args]);
      expect(refused.code, refused.stdout).to.equal(1);
      expect(refused.stderr).to.match(/--password-stdin/);
      expect(refused.stderr + refused.stdout, 'the refused password is not echoed either').not.to.include(password);
    }
    expect((await staffLogin(email, password)).status).to.equal(401);
    const empty = await runCli(['staff', 'create', '--email', email, '--role', 'dpo', '--password-stdin'], { input: '' });
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.match(/stdin held no password/);
  });

  it('on a terminal, prompts twice without echoing what is typed (util-linux `script` gives it a pty)', async function () {
    requireTool(this, 'script');
    const email = uniqueEmail('tty-staff');
    const password = strongPassword();
    const command = `${process.execPath} --import tsx src/cli.ts staff create --email ${email} --role support`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    const waitForScreen = (pattern: RegExp) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} on the terminal: ${screen}`)), 30_000);
      const check = () => { if (pattern.test(screen)) { clearTimeout(timer); child.stdout.off('data', check); resolve(); } };
      child.stdout.on('data', (d: Buffer) => { screen += d; check(); });
      check();
    });
    // Type only once the prompt is up: before raw mode, the terminal itself would echo the keys.
    await waitForScreen(/Password \(/);
    child.stdin.write(`${password}\r`);
    await waitForScreen(/Same password again/);
    child.stdin.write(`${password}\r`);
    await waitForScreen(/created staff/);
    child.stdin.end();
    await new Promise((resolve) => child.once('close', resolve));
    expect(screen, 'the typed password never appears on the terminal').not.to.include(password);
    expect((await staffLogin(email, password)).status).to.equal(200);
  });

  it('prints a one-time password without --password-stdin when stdin is not a terminal', async () => {
    const email = uniqueEmail('otp-staff');
    const created = await runCli(['staff', 'create', '--email', email, '--role', 'support']);
    expect(created.code, created.stderr).to.equal(0);
    const match = /one-time password: (\S+)/.exec(created.stdout);
    expect(match, created.stdout).to.not.equal(null);
    expect((await staffLogin(email, match![1])).status).to.equal(200);
  });

  it('refuses an unknown role and a weak password with a message, exit code 1', async () => {
    const badRole = await runCli(['staff', 'create', '--email', uniqueEmail(), '--role', 'root', '--password-stdin'], { input: strongPassword() });
    expect(badRole.code).to.not.equal(0);
    expect(badRole.stderr).to.match(/support, dpo, security, admin/);
    const weak = await runCli(['staff', 'create', '--email', uniqueEmail(), '--role', 'dpo', '--password-stdin'], { input: 'short\n' });
    expect(weak.code).to.equal(1);
    expect(weak.stderr).to.match(/at least 12 characters/);
  });

  it('an unconfirmed staff token reaches only enrolment routes; staffSession routes refuse it with 403', async () => {
    const email = uniqueEmail('unconfirmed');
    const password = strongPassword();
    expect((await runCli(['staff', 'create', '--email', email, '--role', 'admin', '--password-stdin'], { input: password })).code).to.equal(0);
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
