import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createStaff, createUser, type TestStaff } from '../support/accounts.js';
import { reasonHeaders, runCustos } from './helpers.js';
import { createAuditIntegrity } from '../../src/modules/audit/audit-integrity.js';
import { CANONICAL_SQL, createAuditRepo } from '../../src/modules/audit/audit-repo.js';
import { canonicalEvent } from '../../src/modules/audit/audit-chain.js';

// The fast pass (event hashes recomputed in PostgreSQL, chain and signatures checked here) must
// name the same event as the exact pass, also when a break sits at a range boundary; and the
// sample rebuilt from raw columns must catch a PostgreSQL whose recomputation lies.
describe('audit: fast and exact verification passes agree', () => {
  let support: TestStaff;
  const db = () => testContainer().platform.db;
  const integrity = (repo = createAuditRepo(db())) => createAuditIntegrity({ repo, signer: testContainer().platform.signer });
  const asSuperuser = (sql: string, bindings: unknown[] = []) => privilegedDb().transaction(async (trx) => {
    await trx.raw('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await trx.raw('ALTER TABLE audit_chain DISABLE TRIGGER USER');
    await trx.raw(sql, bindings as never);
    await trx.raw('ALTER TABLE audit_chain ENABLE TRIGGER USER');
    await trx.raw('ALTER TABLE audit_events ENABLE TRIGGER USER');
  });
  const events = async (n: number) => {
    const user = await createUser('passes');
    for (let i = 0; i < n; i++) await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders(`TICKET-${i}`)).expect(200);
    await testContainer().audit.seal();
    const rows = await db()('audit_events').where({ subject_user_id: user.id }).orderBy('seq').select('seq');
    return rows.map((r: { seq: number }) => Number(r.seq));
  };
  const both = async () => {
    const fast = await integrity().verify({ seal: false, rangeSize: 4 });
    const exact = await integrity().verify({ seal: false, rangeSize: 4, thorough: true });
    expect(fast.break, 'fast and exact passes disagree').to.deep.equal(exact.break);
    expect(fast.intactUpTo).to.equal(exact.intactUpTo);
    return fast;
  };

  before(async () => {
    support = await createStaff('support');
  });

  it('builds the canonical form in SQL as the reference does, whether a row needs JSON escaping or not', async () => {
    const { audit } = testContainer();
    const actor = { kind: 'staff' as const, staffId: support.id, email: support.email, role: 'support' };
    const cases = [
      { justification: 'TICKET-1 plain ascii', detail: null, userAgent: 'Mozilla/5.0' },
      { justification: 'é 漢字 🙂 </script> del \u007f \u2028', detail: 'no escapes needed', userAgent: null },
      { justification: 'plain', detail: 'one "quote" here', userAgent: 'x' },
      { justification: 'plain', detail: null, userAgent: 'tab\there' },
      { justification: 'back\\slash', detail: null, userAgent: null },
    ];
    for (const c of cases) {
      const { seq } = await audit.record({ actor, action: 'admin.user.read', outcome: 'allowed', resourceIds: ['r"1', 'é'], ...c });
      const [event] = await createAuditRepo(db()).listEvents({ staffId: support.id }, seq + 1, 1);
      const { rows } = await db().raw(`SELECT ${CANONICAL_SQL} AS canonical FROM audit_events WHERE seq = ?`, [seq]);
      expect(rows[0].canonical, JSON.stringify(c)).to.equal(canonicalEvent(event));
    }
  });

  it('names the same changed event in both passes, and the CLI --thorough agrees', async () => {
    const [, target] = await events(6);
    await asSuperuser('UPDATE audit_events SET justification = ? WHERE seq = ?', ['TICKET-rewritten', target]);
    try {
      const result = await both();
      expect(result.break).to.include({ seq: target, kind: 'changed' });
      const cli = await runCustos(['audit', 'verify', '--no-seal', '--thorough']);
      expect(cli.code).to.equal(1);
      expect(cli.stdout).to.contain(`broken at event ${target} (changed)`);
    } finally {
      await asSuperuser('UPDATE audit_events SET justification = ? WHERE seq = ?', ['TICKET-1', target]);
    }
    expect((await both()).intact).to.equal(true);
  });

  it('reports events deleted with their seals across a whole range, and a seal removed at a range boundary', async () => {
    const seqs = await events(12);
    const gone = seqs.slice(2, 9); // more than one 4-wide range
    await privilegedDb().raw('CREATE TABLE audit_saved_events AS SELECT * FROM audit_events WHERE seq = ANY(?)', [gone]);
    await privilegedDb().raw('CREATE TABLE audit_saved_chain AS SELECT * FROM audit_chain WHERE seq = ANY(?)', [gone]);
    try {
      await asSuperuser('DELETE FROM audit_events WHERE seq = ANY(?)', [gone]);
      await asSuperuser('DELETE FROM audit_chain WHERE seq = ANY(?)', [gone]);
      const result = await both();
      expect(result.break).to.deep.equal({ seq: gone[0], kind: 'missing', detail: `events ${gone[0]}–${gone.at(-1)} were deleted together with their seals` });
      // Put the events back but not their seals: each now lacks its seal (the first in a range before the next seal).
      await asSuperuser('INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM audit_saved_events');
      const unsealed = await both();
      expect(unsealed.break).to.include({ seq: gone[0], kind: 'changed' });
      expect(unsealed.break!.detail).to.equal(`the seal of event ${gone[0]} was removed`);
    } finally {
      await asSuperuser('DELETE FROM audit_events WHERE seq = ANY(?)', [gone]);
      await asSuperuser('INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM audit_saved_events');
      await asSuperuser('INSERT INTO audit_chain SELECT * FROM audit_saved_chain');
      await privilegedDb().raw('DROP TABLE audit_saved_events, audit_saved_chain');
    }
    expect((await both()).intact).to.equal(true);
  });

  it('catches a PostgreSQL that reports every recomputed hash as matching, by rebuilding a sample here', async () => {
    const [target] = await events(3);
    const repo = createAuditRepo(db());
    // A server that lies: it vouches for every event hash whatever the row holds.
    const lying = { ...repo, verifyRange: async (from: number, to: number) => ({ ...(await repo.verifyRange(from, to)), suspects: [] }) };
    await asSuperuser('UPDATE audit_events SET reason = ? WHERE seq = ?', ['legal_request', target]);
    try {
      const fooled = await integrity(lying).verify({ seal: false, sample: 0 });
      expect(fooled.intact, 'the sample is what catches it').to.equal(true);
      const result = await integrity(lying).verify({ seal: false, sample: 100_000 });
      expect(result.break).to.include({ seq: target, kind: 'changed' });
      expect(result.break!.detail).to.contain('outside PostgreSQL');
    } finally {
      await asSuperuser('UPDATE audit_events SET reason = ? WHERE seq = ?', ['support_request', target]);
    }
  });
});
