// A real internal error, on every route it reaches (issue 16, item 6): the service is pointed at a
// PostgreSQL database that exists and answers but was never migrated, so every query fails with
// a driver error that names the missing relation, the SQL and the driver's stack. No test
// produced a 500 before, so a stack trace in a 500 body would have gone unnoticed. Each 500 must
// be the bare RFC 9457 problem: the generic detail and the request id, nothing from the inside.
import { expect } from 'chai';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { listOperations, type BoundOperation } from '../../src/platform/http/openapi.js';
import { isolatedApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';
import { document, specRequest } from '../support/spec-requests.js';

const testDatabase = process.env.CUSTOS_TEST_DATABASE ?? 'custos_test';
const unmigrated = `${testDatabase}_unmigrated`;
const adminUrl = () => withDatabaseName(process.env.DATABASE_URL!, 'postgres');

// What a driver error, a stack or a file path would bring along, beyond expectProblem's list.
const internals = [
  /relation "/i, /does not exist/i, /\b42P01\b/, /\bSQLSTATE\b/i, /\b(from|into|update) "?[a-z_]+"? /i,
  /\/[\w.-]+\/[\w./-]+\.(ts|js|mjs|cjs)\b/, /\b(src|jobs|node_modules)\//, /\b(Type|Reference|Syntax|Range)Error\b/, /\bError: /, /\n\s+at /,
];

async function withAdmin(fn: (admin: ReturnType<typeof createDb>) => Promise<unknown>) {
  const admin = createDb(adminUrl(), 1);
  try {
    await fn(admin);
  } finally {
    await admin.destroy();
  }
}

describe('platform: internal errors (a database that was never migrated)', function () {
  this.timeout(120_000);
  let broken: ReturnType<typeof isolatedApp>;

  before(async () => {
    await withAdmin(async (admin) => {
      await admin.raw(`DROP DATABASE IF EXISTS "${unmigrated}" WITH (FORCE)`);
      await admin.raw(`CREATE DATABASE "${unmigrated}"`);
    });
    // Connected as the URL's own user: `custos migrate` never ran there, so no runtime role exists.
    broken = isolatedApp({
      DATABASE_URL: withDatabaseName(process.env.DATABASE_URL!, unmigrated),
      CUSTOS_DATABASE_RUNTIME_ROLE: new URL(process.env.DATABASE_URL!).username,
    });
  });

  after(async () => {
    await broken?.close();
    await withAdmin((admin) => admin.raw(`DROP DATABASE IF EXISTS "${unmigrated}" WITH (FORCE)`));
  });

  it('every route that fails answers a bare 500 problem: no stack, SQL, file path or driver message', async () => {
    const token = { Authorization: `Bearer cst_${'A'.repeat(43)}` };
    const failed: string[] = [];
    for (const op of listOperations(document) as BoundOperation[]) {
      const res = await specRequest(broken.app, op, token);
      if (res.status !== 500) continue;
      const where = `${op.method.toUpperCase()} ${op.openapiPath}`;
      failed.push(where);
      const body = expectProblem(res, 500);
      expect(body.type, where).to.equal('urn:custos:problem:internal');
      expect(body.detail, where).to.equal('Something went wrong on our side. Quote the request id when you report it.');
      expect(Object.keys(body).sort(), where).to.deep.equal(['detail', 'instance', 'requestId', 'status', 'title', 'type']);
      for (const leak of internals) expect(res.text, `${where} leaks ${leak}`).not.to.match(leak);
      expect(res.headers['cache-control'], where).to.equal('no-store');
    }
    // The failure is real and broad: sign-up, login, and every route behind a session lookup.
    expect(failed, 'routes that failed').to.include.members(['POST /api/v1/auth/register', 'POST /api/v1/auth/login', 'GET /api/v1/me', 'GET /api/v1/chats', 'GET /api/v1/privacy/requests']);
    expect(failed.length).to.be.greaterThan(20);
  });

  it('the same process still serves what does not need the database', async () => {
    expect((await broken.api().get('/healthz')).status).to.equal(200);
    expect((await broken.api().get('/readyz')).status, 'PostgreSQL answers, so it is ready').to.equal(200);
  });
});
