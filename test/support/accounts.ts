// Principals for tests, created the way a person would: through HTTP (users) or the service the
// `custos staff create` command calls (staff), with TOTP codes computed independently of the app.
import { randomBytes } from 'node:crypto';
import { TOTP, Secret } from 'otpauth';
import { expect } from 'chai';
import type { StaffRole } from '../../src/platform/http/auth.js';
import type supertest from 'supertest';
import type { Container } from '../../src/container.js';
import { api, testContainer } from './app.js';

export const strongPassword = () => `Correct-Horse-${randomBytes(6).toString('hex')}`;
export const uniqueEmail = (label = 'user') => `${label}-${randomBytes(5).toString('hex')}@example.test`;

/** A TOTP code for `secret` at `time`, computed without the app's code. */
export function totpCode(secretBase32: string, time = Date.now()): string {
  return new TOTP({ secret: Secret.fromBase32(secretBase32), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: time });
}

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  auth: { Authorization: string };
}

export async function createUser(label = 'user'): Promise<TestUser> {
  const email = uniqueEmail(label);
  const password = strongPassword();
  const registered = await api().post('/api/v1/auth/register').send({ email, password });
  expect(registered.status, JSON.stringify(registered.body)).to.equal(201);
  const login = await api().post('/api/v1/auth/login').send({ email, password });
  expect(login.status, JSON.stringify(login.body)).to.equal(200);
  return { id: registered.body.id, email, password, token: login.body.token, auth: { Authorization: `Bearer ${login.body.token}` } };
}

export interface TestStaff extends TestUser {
  role: StaffRole;
  totpSecret: string;
}

/** A staff member with confirmed TOTP and a full session (of another app and container when given). */
export async function createStaff(role: StaffRole, on: { container: Container; api: () => supertest.Agent } = { container: testContainer(), api }): Promise<TestStaff> {
  const { api } = on;
  const email = uniqueEmail(`staff-${role}`);
  const password = strongPassword();
  const account = await on.container.accounts.createStaff(email, role, password);
  const first = await api().post('/api/v1/staff/auth/login').send({ email, password });
  expect(first.status, JSON.stringify(first.body)).to.equal(200);
  const enrolAuth = { Authorization: `Bearer ${first.body.token}` };
  const enrol = await api().post('/api/v1/staff/me/2fa/totp').set(enrolAuth);
  expect(enrol.status, JSON.stringify(enrol.body)).to.equal(201);
  const totpSecret = enrol.body.secret as string;
  // Confirm with the current step and log in with the next one: the server accepts one step of
  // drift, and the login step is always later than the confirmed one (no replay), even when a
  // step boundary passes in between. (Confirming with the previous step failed whenever a
  // boundary passed between computing the code and the server checking it.)
  const confirm = await api().post('/api/v1/staff/me/2fa/totp/confirm').set(enrolAuth).send({ code: totpCode(totpSecret) });
  expect(confirm.status, JSON.stringify(confirm.body)).to.equal(200);
  const login = await api().post('/api/v1/staff/auth/login').send({ email, password, totp: totpCode(totpSecret, Date.now() + 30_000) });
  expect(login.status, JSON.stringify(login.body)).to.equal(200);
  return { id: account.id, email, password, role, totpSecret, token: login.body.token, auth: { Authorization: `Bearer ${login.body.token}` } };
}
