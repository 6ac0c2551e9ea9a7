import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { privilegedDb } from '../support/db.js';
import { createStaff, createUser, type TestStaff } from '../support/accounts.js';
import { reasonHeaders, runCustos } from './helpers.js';
import { canonicalEvent } from '../../src/modules/audit/audit-chain.js';
import { CANONICAL_SQL, createAuditRepo } from '../../src/modules/audit/audit-repo.js';

// Tampering is done the way an attacker with the database superuser would: triggers disabled,
// rows changed, triggers re-enabled (on a privileged connection: the application's own, the
// runtime role, can do none of it). Each test puts the rows back so the next one starts intact.
describe('audit: append-only hash chain and verification', () => {
  let support: TestStaff;
  let dpo: TestStaff;
  const db = () => testContainer().platform.db;
  const superuser = () => privilegedDb();
  const asSuperuser = async (sql: string, bindings: unknown[] = []) => {
    await superuser().transaction(async (trx) => {
      await trx.raw('ALTER TABLE audit_events DISABLE TRIGGER USER');
      await trx.raw(sql, bindings as never);
      await trx.raw('ALTER TABLE audit_events ENABLE TRIGGER USER');
    });
  };
  const verify = async () => {
    const res = await api().get('/api/v1/audit/verify').set(dpo.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const someEvents = async (n: number) => {
    const user = await createUser('chain');
    for (let i = 0; i < n; i++) await api().get(`/api/v1/admin/users/${user.id}`).set(support.auth).set(reasonHeaders(`TICKET-${i}`)).expect(200);
    // Sealed, as the background sealer does within moments of each write.
    await testContainer().audit.seal();
    const rows = await db()('audit_events').where({ subject_user_id: user.id }).orderBy('seq').select('seq');
    return rows.map((r: { seq: number }) => Number(r.seq));
  };

  before(async () => {
    [support, dpo] = await Promise.all([createStaff('support'), createStaff('dpo')]);
  });

  it('builds the canonical form in SQL exactly as the reference JSON definition does', async () => {
    const tricky = 'quote " backslash \\ newline \n tab \t bell \u0007 del \u007f é 漢字 🙂 </script>';
    const { seq } = await testContainer().audit.record({
      actor: { kind: 'staff', staffId: support.id, email: support.email, role: 'support' }, action: 'admin.user.read', outcome: 'allowed',
      resourceIds: ['a', 'b"c'], justification: tricky, userAgent: tricky, detail: null,
    });
    const [event] = await createAuditRepo(db()).listEvents({ staffId: support.id }, seq + 1, 1);
    const { rows } = await db().raw(`SELECT ${CANONICAL_SQL} AS canonical FROM audit_events WHERE seq = ?`, [seq]);
    expect(rows[0].canonical).to.equal(canonicalEvent(event));
    expect(JSON.parse(rows[0].canonical)[13]).to.equal(tricky);
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the service\'s own connection, and to a superuser even with the old purge setting', async () => {
    await someEvents(1);
    for (const sql of ["UPDATE audit_events SET reason = 'legal_request'", 'DELETE FROM audit_events', 'TRUNCATE audit_events',
      'DELETE FROM audit_chain', 'UPDATE audit_checkpoints SET seq = 0']) {
      for (const [who, connection, refusal] of [['runtime role', db(), /permission denied/], ['superuser', superuser(), /append-only/]] as const) {
        let error: Error | undefined;
        try {
          await connection.transaction(async (trx) => {
            await trx.raw("SET LOCAL custos.audit_purge_through = '999999'");
            await trx.raw(sql);
          });
        } catch (e) { error = e as Error; }
        expect(error?.message, `${who}: ${sql}`).to.match(refusal);
      }
    }
  });

  it('reports an intact trail with its last event, and checks signed checkpoints', async () => {
    const [seq] = await someEvents(2);
    const checkpoint = await testContainer().audit.checkpoint();
    expect(checkpoint!.seq).to.be.at.least(seq);
    const result = await verify();
    expect(result.intact).to.equal(true);
    expect(result.message).to.match(/^intact up to event \d+$/);
    expect(result.intactUpTo).to.be.at.least(checkpoint!.seq);
    expect(result.checkpointsChecked).to.be.at.least(1);
  });

  it('names the exact event a superuser changed (trigger disabled), via the API and the CLI', async function () {
    this.timeout(120_000); // two CLI runs, each a tsx start-up: most of a minute on a loaded machine
    const [, target] = await someEvents(3);
    await asSuperuser('UPDATE audit_events SET reason = ? WHERE seq = ?', ['legal_request', target]);
    try {
      const result = await verify();
      expect(result.intact).to.equal(false);
      expect(result.break).to.include({ seq: target, kind: 'changed' });
      expect(result.intactUpTo).to.equal(target - 1);
      const cli = await runCustos(['audit', 'verify']);
      expect(cli.code, cli.stderr).to.equal(1);
      expect(cli.stdout).to.contain(`broken at event ${target} (changed)`);
    } finally {
      await asSuperuser('UPDATE audit_events SET reason = ? WHERE seq = ?', ['support_request', target]);
    }
    expect((await verify()).intact).to.equal(true);
    const cli = await runCustos(['audit', 'verify']);
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.match(/^intact up to event \d+\n$/);
  });

  it('detects a deleted event', async () => {
    const [, target] = await someEvents(3);
    await superuser().raw('CREATE TABLE audit_saved AS SELECT * FROM audit_events WHERE seq = ?', [target]);
    try {
      await asSuperuser('DELETE FROM audit_events WHERE seq = ?', [target]);
      const result = await verify();
      expect(result.break).to.include({ seq: target, kind: 'missing' });
    } finally {
      await superuser().raw('INSERT INTO audit_events OVERRIDING SYSTEM VALUE SELECT * FROM audit_saved');
      await superuser().raw('DROP TABLE audit_saved');
    }
    expect((await verify()).intact).to.equal(true);
  });

  it('detects reordered events', async () => {
    const [a, b] = await someEvents(2);
    const swap = `UPDATE audit_events t SET occurred_at = o.occurred_at, justification = o.justification, request_id = o.request_id
      FROM audit_events o WHERE (t.seq, o.seq) IN ((?, ?), (?, ?))`;
    await asSuperuser(swap, [a, b, b, a]);
    try {
      const result = await verify();
      expect(result.break).to.include({ seq: a, kind: 'reordered' });
      expect(result.break.detail).to.contain(`position ${b}`);
    } finally {
      await asSuperuser(swap, [a, b, b, a]);
    }
    expect((await verify()).intact).to.equal(true);
  });

  it('detects a forged checkpoint signature', async () => {
    await someEvents(1);
    const checkpoint = (await testContainer().audit.checkpoint())!;
    const forge = async (signature: string) => superuser().transaction(async (trx) => {
      await trx.raw('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
      await trx.raw('UPDATE audit_checkpoints SET signature = ? WHERE id = ?', [signature, checkpoint.id]);
      await trx.raw('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    });
    await forge(Buffer.alloc(64, 7).toString('base64'));
    try {
      expect((await verify()).break).to.include({ seq: checkpoint.seq, kind: 'signature' });
    } finally {
      await forge(checkpoint.signature);
    }
    expect((await verify()).intact).to.equal(true);
  });
});
