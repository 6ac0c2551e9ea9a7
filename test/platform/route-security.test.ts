// The route × principal table (after Unkey's runCommonRouteTests): for EVERY operation of the
// merged OpenAPI document that requires a principal, each principal that the operation does not
// admit is turned away before any handler runs. Routes other engineers add are covered
// automatically, because the table is built from loadOpenApi().
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser, strongPassword, uniqueEmail } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import type { Response } from 'supertest';
import { listOperations, loadOpenApi, type BoundOperation } from '../../src/platform/http/openapi.js';
import { STAFF_ROLES, type StaffRole } from '../../src/platform/http/auth.js';

const document = loadOpenApi();
const defaultSecurity = document.security ?? [{ userSession: [] }];
const requirementsOf = (op: BoundOperation) => op.operation.security ?? defaultSecurity;
const isPublic = (op: BoundOperation) => requirementsOf(op).length === 0 || requirementsOf(op).some((r) => Object.keys(r).length === 0);
const admits = (op: BoundOperation, scheme: string) => requirementsOf(op).some((r) => scheme in r);
const protectedOperations = listOperations(document).filter((op) => !isPublic(op));
const pathOf = (op: BoundOperation) => op.expressPath.replace(/:[^/]+/g, () => randomUUID());
const call = (op: BoundOperation, headers: Record<string, string> = {}) => api()[op.method](pathOf(op)).set(headers);
// The relay's /v1 answers in OpenAI's error shape (its SDKs read it); everything else in RFC 9457.
const isRelay = (op: BoundOperation) => op.openapiPath.startsWith('/v1/');
function expectRefusal(op: BoundOperation, res: Response, status: number) {
  if (!isRelay(op)) return expectProblem(res, status);
  expect(res.status, res.text).to.equal(status);
  expect(res.body?.error?.message, res.text).to.be.a('string');
  expect(res.body.error.type).to.be.a('string');
  return res.body.error as Record<string, unknown>;
}

describe('platform: route × principal table', function () {
  this.timeout(120_000);
  let user: Awaited<ReturnType<typeof createUser>>;
  const staff = {} as Record<StaffRole, Awaited<ReturnType<typeof createStaff>>>;
  let unconfirmedStaff: { Authorization: string };
  let apiKey: { Authorization: string };

  before(async () => {
    user = await createUser('table');
    for (const role of STAFF_ROLES) staff[role] = await createStaff(role);
    const email = uniqueEmail('unconfirmed');
    const password = strongPassword();
    await testContainer().accounts.createStaff(email, 'admin', password);
    const login = await api().post('/api/v1/staff/auth/login').send({ email, password });
    unconfirmedStaff = { Authorization: `Bearer ${login.body.token}` };
    const created = await testContainer().relay.createKey(user.id, { name: 'table', environment: 'live' });
    apiKey = { Authorization: `Bearer ${created.key}` };
  });

  it('the table is not empty and every protected operation names only known schemes', () => {
    expect(protectedOperations.length).to.be.greaterThan(5);
    const known = Object.keys(document.components.securitySchemes ?? {});
    for (const op of protectedOperations) {
      for (const requirement of requirementsOf(op)) {
        for (const scheme of Object.keys(requirement)) expect(known, `${op.operationId} uses ${scheme}`).to.include(scheme);
      }
    }
  });

  it('covers the staff lookup by email: staff sessions with TOTP only, every staff role', () => {
    const find = protectedOperations.find((op) => op.operationId === 'adminFindUsers');
    expect(find, 'GET /api/v1/admin/users is in the table').to.not.equal(undefined);
    expect(admits(find!, 'staffSession')).to.equal(true);
    expect(admits(find!, 'userSession')).to.equal(false);
    expect(admits(find!, 'staffEnrolment')).to.equal(false);
    expect(find!.operation['x-custos-roles']).to.have.members([...STAFF_ROLES]);
  });

  for (const op of protectedOperations) {
    describe(`${op.method.toUpperCase()} ${op.openapiPath} (${op.operationId})`, () => {
      it('401 without a token, with a malformed one, and with a forged one', async () => {
        const missing = await call(op);
        expectRefusal(op, missing, 401);
        expect(missing.headers['www-authenticate']).to.equal('Bearer');
        expectRefusal(op, await call(op, { Authorization: 'Bearer' }), 401);
        expectRefusal(op, await call(op, { Authorization: `Bearer cst_${'A'.repeat(43)}` }), 401);
        expectRefusal(op, await call(op, { Authorization: `Bearer cus_live_${'A'.repeat(57)}` }), 401);
      });

      if (!admits(op, 'relayApiKey')) {
        it('refuses a relay API key (401/403)', async () => {
          const res = await call(op, apiKey);
          expect([401, 403]).to.include(res.status);
          expectRefusal(op, res, res.status);
        });
      }

      if (!admits(op, 'userSession')) {
        it('refuses a user session (401/403)', async () => {
          const res = await call(op, user.auth);
          expect([401, 403]).to.include(res.status);
          expectRefusal(op, res, res.status);
        });
      }

      if (!admits(op, 'staffSession') && !admits(op, 'staffEnrolment')) {
        it('refuses every staff role (401/403)', async () => {
          for (const role of STAFF_ROLES) {
            const res = await call(op, staff[role].auth);
            expect([401, 403], role).to.include(res.status);
            expectRefusal(op, res, res.status);
          }
        });
      }

      if (admits(op, 'staffSession') && !admits(op, 'staffEnrolment')) {
        it('refuses a staff session without confirmed TOTP (403)', async () => {
          expectProblem(await call(op, unconfirmedStaff), 403);
        });
      }

      const roles = op.operation['x-custos-roles'];
      if (roles && (admits(op, 'staffSession') || admits(op, 'staffEnrolment'))) {
        for (const role of STAFF_ROLES.filter((r) => !roles.includes(r))) {
          it(`refuses role ${role} (403; needs ${roles.join('/')})`, async () => {
            const body = expectProblem(await call(op, staff[role].auth), 403);
            expect(String(body.detail)).to.match(/needs one of the roles/);
          });
        }
      }
    });
  }

  // Public trust-centre reads: anonymous (never 401/403; 404 only for security.txt without a contact).
  for (const op of listOperations(document).filter((o) => isPublic(o) && o.method === 'get' && /^\/(api\/v1\/trust|trust|\.well-known)/.test(o.openapiPath) && !o.openapiPath.includes('{'))) {
    it(`${op.openapiPath} (${op.operationId}) answers anonymously`, async () => {
      const res = await call(op);
      expect([200, 404], `${op.operationId}: ${res.status}`).to.include(res.status);
      if (res.status === 404) expect(op.operationId).to.equal('getSecurityTxt');
    });
  }

  it('every principal used above is still valid (so the refusals were about the route)', async () => {
    expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(200);
    for (const role of STAFF_ROLES) expect((await api().get('/api/v1/staff/me').set(staff[role].auth)).status, role).to.equal(200);
    expect((await api().get('/api/v1/staff/me').set(unconfirmedStaff)).status).to.equal(200);
    expect((await api().get('/v1/models').set(apiKey)).status).to.equal(200);
  });

  it('the relay routes are in the table, each admitting the API key only', () => {
    const relayOps = protectedOperations.filter(isRelay);
    expect(relayOps.map((op) => op.operationId)).to.include.members(['listRelayModels', 'createChatCompletion', 'createEmbedding']);
    for (const op of relayOps) expect(requirementsOf(op), op.operationId).to.deep.equal([{ relayApiKey: [] }]);
    for (const op of protectedOperations.filter((o) => !isRelay(o))) expect(admits(op, 'relayApiKey'), op.operationId).to.equal(false);
  });
});
