// Every route that verifies a password, a TOTP code or a recovery code goes through the one
// credential throttle, with login's per-account counter (issue 12 item 4: DELETE …/2fa/totp had
// no throttle and kept answering while login was locked). The list is CREDENTIAL_ROUTES in
// login-throttle.ts; this file checks it against the spec and walks it: for each route, guesses
// there lock login, and a lockout earned at login refuses the route even with the right
// credentials.
import { expect } from 'chai';
import { CREDENTIAL_ROUTES } from '../../src/modules/accounts/login-throttle.js';
import { listOperations, loadOpenApi, type OpenApiDocument } from '../../src/platform/http/openapi.js';
import { createStaff, createUser, strongPassword, totpCode, uniqueEmail, type TestUser } from '../support/accounts.js';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

const CREDENTIAL_FIELDS = ['password', 'totp', 'recoveryCode', 'code'];
/** Take a password to set it, not to check one (registration is limited on its own, see registration.test.ts). */
const SETS_NOT_VERIFIES = ['registerUser'];
const LIMIT = 2;

/** Property names a request body schema can carry, through $ref, allOf/oneOf/anyOf. */
function bodyProperties(doc: OpenApiDocument, schema: unknown, seen = new Set<unknown>()): Set<string> {
  const names = new Set<string>();
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return names;
  seen.add(schema);
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string') {
    const [, , section, name] = s.$ref.split('/');
    return bodyProperties(doc, doc.components[section]?.[name], seen);
  }
  for (const key of Object.keys((s.properties as object) ?? {})) names.add(key);
  for (const combinator of ['allOf', 'oneOf', 'anyOf']) {
    for (const part of (s[combinator] as unknown[]) ?? []) for (const n of bodyProperties(doc, part, seen)) names.add(n);
  }
  return names;
}

const wrongCode = (secret: string) => {
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpCode(secret, Date.now() + d)));
  return ['000000', '111111', '222222'].find((c) => !valid.has(c))!;
};

type Limited = ReturnType<typeof isolatedApp>;
interface Probe {
  kind: 'user' | 'staff';
  /** An account in the state where the route checks its credentials. */
  setup(): Promise<TestUser & { secret?: string }>;
  right(app: Limited, who: TestUser & { secret?: string }): Promise<{ status: number; body: unknown }>;
  wrong(app: Limited, who: TestUser & { secret?: string }): Promise<{ status: number; body: unknown }>;
}

async function userWithTotp(): Promise<TestUser & { secret: string }> {
  const user = await createUser('cred-totp');
  const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
  const confirm = await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: totpCode(enrol.body.secret, Date.now() - 30_000) });
  expect(confirm.status, JSON.stringify(confirm.body)).to.equal(200);
  return { ...user, secret: enrol.body.secret };
}
async function userEnrolling(): Promise<TestUser & { secret: string }> {
  const user = await createUser('cred-enrol');
  const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
  expect(enrol.status).to.equal(201);
  return { ...user, secret: enrol.body.secret };
}
async function staffEnrolling(): Promise<TestUser & { secret: string }> {
  const email = uniqueEmail('cred-staff');
  const password = strongPassword();
  const account = await testContainer().accounts.createStaff(email, 'support', password);
  const login = await api().post('/api/v1/staff/auth/login').send({ email, password });
  const auth = { Authorization: `Bearer ${login.body.token}` };
  const enrol = await api().post('/api/v1/staff/me/2fa/totp').set(auth);
  expect(enrol.status).to.equal(201);
  return { id: account.id, email, password, token: login.body.token, auth, secret: enrol.body.secret };
}

const probes: Record<string, Probe> = {
  loginUser: {
    kind: 'user',
    setup: () => createUser('cred-login'),
    right: (app, u) => app.api().post('/api/v1/auth/login').send({ email: u.email, password: u.password }),
    wrong: (app, u) => app.api().post('/api/v1/auth/login').send({ email: u.email, password: 'wrong-password-1' }),
  },
  loginStaff: {
    kind: 'staff',
    setup: async () => { const s = await createStaff('dpo'); return { ...s, secret: s.totpSecret }; },
    right: (app, s) => app.api().post('/api/v1/staff/auth/login').send({ email: s.email, password: s.password, totp: totpCode(s.secret!, Date.now() + 30_000) }),
    wrong: (app, s) => app.api().post('/api/v1/staff/auth/login').send({ email: s.email, password: 'wrong-password-1' }),
  },
  disableMyTotp: {
    kind: 'user',
    setup: userWithTotp,
    right: (app, u) => app.api().delete('/api/v1/me/2fa/totp').set(u.auth).send({ password: u.password, totp: totpCode(u.secret!) }),
    wrong: (app, u) => app.api().delete('/api/v1/me/2fa/totp').set(u.auth).send({ password: 'wrong-password-1', totp: totpCode(u.secret!) }),
  },
  confirmMyTotp: {
    kind: 'user',
    setup: userEnrolling,
    right: (app, u) => app.api().post('/api/v1/me/2fa/totp/confirm').set(u.auth).send({ code: totpCode(u.secret!) }),
    wrong: (app, u) => app.api().post('/api/v1/me/2fa/totp/confirm').set(u.auth).send({ code: wrongCode(u.secret!) }),
  },
  confirmStaffTotp: {
    kind: 'staff',
    setup: staffEnrolling,
    right: (app, s) => app.api().post('/api/v1/staff/me/2fa/totp/confirm').set(s.auth).send({ code: totpCode(s.secret!) }),
    wrong: (app, s) => app.api().post('/api/v1/staff/me/2fa/totp/confirm').set(s.auth).send({ code: wrongCode(s.secret!) }),
  },
  requestMyExport: {
    kind: 'user',
    setup: () => createUser('cred-export'),
    right: (app, u) => app.api().post('/api/v1/me/exports').set(u.auth).send({ passphrase: 'credential route passphrase', password: u.password }),
    wrong: (app, u) => app.api().post('/api/v1/me/exports').set(u.auth).send({ passphrase: 'credential route passphrase', password: 'wrong-password-1' }),
  },
  requestMyDeletion: {
    kind: 'user',
    setup: () => createUser('cred-deletion'),
    right: (app, u) => app.api().post('/api/v1/me/deletion').set(u.auth).send({ password: u.password }),
    wrong: (app, u) => app.api().post('/api/v1/me/deletion').set(u.auth).send({ password: 'wrong-password-1' }),
  },
};

const loginPath = (kind: 'user' | 'staff') => (kind === 'user' ? '/api/v1/auth/login' : '/api/v1/staff/auth/login');

describe('accounts: every route that verifies a credential is throttled (CREDENTIAL_ROUTES)', function () {
  this.timeout(120_000);
  let limited: Limited;
  before(() => { limited = isolatedApp({ CUSTOS_LOGIN_MAX_FAILURES_PER_ACCOUNT: String(LIMIT) }); });
  after(() => limited?.close());

  it('lists exactly the operations whose request takes a password or a code, each declaring 429', () => {
    const doc = loadOpenApi();
    const takingCredentials = listOperations(doc).filter((op) => {
      const body = (op.operation.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content;
      const fields = new Set(Object.values(body ?? {}).flatMap((media) => [...bodyProperties(doc, media.schema)]));
      return CREDENTIAL_FIELDS.some((f) => fields.has(f)) && !SETS_NOT_VERIFIES.includes(op.operation.operationId!);
    }).map((op) => op.operation.operationId!);
    expect(Object.keys(CREDENTIAL_ROUTES).sort()).to.deep.equal([...takingCredentials].sort());
    for (const op of listOperations(doc).filter((o) => o.operation.operationId! in CREDENTIAL_ROUTES)) {
      expect(Object.keys(op.operation.responses as object), `${op.operation.operationId} declares 429`).to.include('429');
    }
    expect(Object.keys(probes).sort(), 'every listed route has a probe below').to.deep.equal(Object.keys(CREDENTIAL_ROUTES).sort());
  });

  for (const operationId of Object.keys(probes)) {
    const probe = probes[operationId];
    it(`${operationId}: refuses the right credentials with 429 while the account is locked at login`, async () => {
      const who = await probe.setup();
      for (let i = 0; i < LIMIT; i += 1) expectProblem(await limited.api().post(loginPath(probe.kind)).send({ email: who.email, password: `wrong-password-${i}` }), 401);
      const res = await probe.right(limited, who);
      expect(res.status, JSON.stringify(res.body)).to.equal(429);
    });

    it(`${operationId}: wrong guesses there count on login's per-account counter`, async () => {
      const who = await probe.setup();
      for (let i = 0; i < LIMIT; i += 1) {
        const res = await probe.wrong(limited, who);
        expect(res.status, JSON.stringify(res.body)).to.be.oneOf([400, 401]);
      }
      expect((await probe.wrong(limited, who)).status, 'the route itself is locked').to.equal(429);
      const login = await limited.api().post(loginPath(probe.kind)).send({ email: who.email, password: who.password });
      expect(login.status, JSON.stringify(login.body)).to.equal(429);
    });
  }

  describe('DELETE /api/v1/me/2fa/totp answers nothing that depends on the password', () => {
    it('without TOTP on: 409 whether the password is right or wrong, and no attempt is spent', async () => {
      const user = await createUser('cred-no-totp');
      const wrong = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: 'wrong-password-1', totp: '123456' }), 409);
      const right = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: '123456' }), 409);
      expect(wrong.detail).to.equal(right.detail);
      for (let i = 0; i < LIMIT + 1; i += 1) expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: `wrong-${i}-password` }), 409);
      expect((await limited.api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })).status).to.equal(200);
    });

    it('with TOTP on: a wrong password reads exactly like a wrong code; a missing code is asked before the password is checked', async () => {
      const user = await userWithTotp();
      const bad = wrongCode(user.secret);
      const wrongPassword = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: 'wrong-password-1', totp: totpCode(user.secret) }), 401);
      const wrongTotp = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password, totp: bad }), 401);
      const strip = ({ requestId: _r, ...rest }: Record<string, unknown>) => rest;
      expect(strip(wrongPassword)).to.deep.equal(strip(wrongTotp));
      const missingWrong = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: 'wrong-password-2' }), 401);
      const missingRight = expectProblem(await limited.api().delete('/api/v1/me/2fa/totp').set(user.auth).send({ password: user.password }), 401);
      expect(strip(missingWrong)).to.deep.equal(strip(missingRight));
      expect(missingRight.secondFactorRequired).to.equal(true);
    });
  });
});
