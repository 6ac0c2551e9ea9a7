// Spec-driven fuzz (issue 12, item 6): EVERY parameter of EVERY operation of the merged OpenAPI
// document gets hostile values — dates no calendar has (a leap second, 30 February, year 0) and
// the names of Object.prototype's members — with the operation's own principal and valid values
// in every other parameter, so the hostile value is the only thing wrong. Nothing may answer 500:
// a value the spec refuses is a 400 problem; one it admits must be handled. Routes other engineers
// add are covered automatically, because the table is built from loadOpenApi().
import { expect } from 'chai';
import { api, testApp } from '../support/app.js';
import { createStaff, createUser, type TestStaff, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { listOperations, type BoundOperation } from '../../src/platform/http/openapi.js';
import { defaultSecurity, document, parametersOf, specRequest } from '../support/spec-requests.js';
import type { StaffRole } from '../../src/platform/http/auth.js';

const impossibleDates = [
  '2026-12-31T23:59:60Z', // leap second: ajv-formats admits it, Date and PostgreSQL do not
  '2026-02-30T00:00:00Z',
  '2025-02-29T12:00:00Z',
  '2026-04-31T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00+01:00', // year 0 in UTC
  '2026-01-01T00:00:00+24:00',
];
const prototypeNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];

describe('platform: spec fuzz with impossible dates and prototype names', function () {
  this.timeout(300_000);
  let user: TestUser;
  const staff = new Map<StaffRole, TestStaff>();

  async function authFor(op: BoundOperation): Promise<Record<string, string>> {
    const requirements = op.operation.security ?? defaultSecurity;
    if (requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0)) return {};
    if (requirements.some((r) => 'userSession' in r)) return user.auth;
    const role = (op.operation['x-custos-roles']?.[0] ?? 'admin') as StaffRole;
    if (!staff.has(role)) staff.set(role, await createStaff(role));
    return staff.get(role)!.auth;
  }

  before(async () => {
    user = await createUser('fuzz');
  });

  it('GET /docs/assets/<prototype name> is a 404 problem, not a lookup on Object.prototype', async () => {
    for (const name of prototypeNames) expectProblem(await api().get(`/docs/assets/${name}`), 404);
  });

  it('an impossible date in /audit/events?from= or /privacy/requests?before= is a 400 naming the field', async () => {
    const dpo = await createStaff('dpo');
    staff.set('dpo', dpo);
    for (const value of impossibleDates) {
      const events = expectProblem(await api().get('/api/v1/audit/events').query({ from: value }).set(dpo.auth), 400);
      expect(JSON.stringify(events.errors), value).to.include('query.from');
      const requests = expectProblem(await api().get('/api/v1/privacy/requests').query({ before: value }).set(dpo.auth), 400);
      expect(JSON.stringify(requests.errors), value).to.include('query.before');
    }
    // A real leap day and the last second of a minute still pass.
    expect((await api().get('/api/v1/audit/events').query({ from: '2024-02-29T23:59:59Z' }).set(dpo.auth)).status).to.equal(200);
    expect((await api().get('/api/v1/privacy/requests').query({ before: '2024-02-29T23:59:59.5+02:00' }).set(dpo.auth)).status).to.equal(200);
  });

  const fuzzable = listOperations(document).filter((op) => parametersOf(op).some((p) => p.in !== 'cookie'));

  it('the fuzz covers parameters of many operations', () => {
    expect(fuzzable.length).to.be.greaterThan(20);
  });

  for (const op of fuzzable) {
    it(`${op.method.toUpperCase()} ${op.openapiPath}: no 500 for any hostile value in any parameter`, async () => {
      const auth = await authFor(op);
      const parameters = parametersOf(op).filter((p) => p.in !== 'cookie');
      const failures: string[] = [];
      for (const parameter of parameters) {
        for (const value of [...impossibleDates, ...prototypeNames]) {
          const res = await specRequest(testApp(), op, auth, { parameter, value });
          const where = `${parameter.in}:${parameter.name}=${value} -> ${res.status}`;
          if (res.status >= 500) failures.push(where);
          else if (res.status >= 400) expectProblem(res, res.status);
        }
      }
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  }
});
