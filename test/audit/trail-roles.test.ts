// Issue 16, item 1: the trail cannot be erased by the application's own database role, retention
// is enforced by the database, and a purge anchor is accepted only when the purge function could
// have written it. A scratch database holds a trail whose first ranges are "old" (written with a
// privileged connection, as time would have), so the whole trail is under the test's control.
import { expect } from 'chai';
import { isolatedApp, testContainer } from '../support/app.js';
import { createStaff, type TestStaff } from '../support/accounts.js';
import { runCli } from '../support/cli.js';
import { createDb, withDatabaseName, type Knex } from '../../src/platform/db.js';
import { roleNameFor } from '../../src/platform/database-names.js';
import { checkpointMessage, keyFingerprint } from '../../src/modules/audit/audit-chain.js';
import { createAuditRepo } from '../../src/modules/audit/audit-repo.js';
import type { Checkpoint } from '../../src/modules/audit/audit-types.js';

const DAY = 86_400_000;
const signedAtText = (date: Date) => date.toISOString().replace('Z', '000Z');

describe('audit: database roles keep the trail append-only (issue 16, item 1)', function () {
  this.timeout(180_000);
  const name = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_trail`;
  const superuserUrl = withDatabaseName(process.env.DATABASE_URL!, name);
  const runtimeRole = roleNameFor(name, 'runtime');
  const ownerRole = roleNameFor(name, 'audit_owner');
  const admin = () => testContainer().platform.db; // only to look at the catalog of the cluster
  let superuser: Knex;
  let scratch: ReturnType<typeof isolatedApp>;
  const custos = (args: string[], env: Record<string, string> = {}) => runCli(args, { env: { DATABASE_URL: superuserUrl, ...env } });
  const checkpoints: Array<{ id: number; seq: number }> = [];
  let old: Checkpoint;
  let recent: Checkpoint;
  let today: Checkpoint;
  let dpo: TestStaff;

  /** Events as of `daysAgo`, sealed, then a checkpoint signed at that time (as the scheduler would have). */
  async function pastRange(daysAgo: number, n: number) {
    const at = new Date(Date.now() - daysAgo * DAY);
    for (let i = 0; i < n; i++) {
      await superuser.raw(`INSERT INTO audit_events (occurred_at, actor_kind, action, outcome, reason)
        VALUES (?, 'system', 'test.past', 'allowed', ?)`, [new Date(at.getTime() + i * 1000), `${daysAgo} days ago`]);
    }
    return sealAndSign(new Date(at.getTime() + n * 1000 + 60_000));
  }
  async function sealAndSign(signedAt: Date) {
    const { audit, platform } = scratch.container;
    await audit.seal();
    const head = await audit.head();
    const text = signedAtText(signedAt);
    const checkpoint = await createAuditRepo(platform.db).insertCheckpoint({
      seq: head.seq, chainHash: head.chainHash, signedAt: text, keyFingerprint: keyFingerprint(platform.signer.publicKeyPem),
      signature: platform.signer.sign(checkpointMessage(head.seq, head.chainHash, text)),
    });
    checkpoints.push({ id: checkpoint.id, seq: checkpoint.seq });
    return checkpoint;
  }
  const refusal = async (run: () => Promise<unknown>) => {
    try { await run(); } catch (error) { return (error as Error).message; }
    throw new Error('the statement was not refused');
  };

  before(async () => {
    await admin().raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(async () => {
      const owner = createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
      await owner.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => owner.destroy());
    });
    const owner = createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
    await owner.raw(`CREATE DATABASE "${name}"`).finally(() => owner.destroy());
    superuser = createDb(superuserUrl, 2);
  });

  after(async () => {
    await scratch?.close();
    await superuser?.destroy();
    const owner = createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
    try {
      await owner.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await owner.raw(`DROP ROLE IF EXISTS "${runtimeRole}", "${ownerRole}"`);
    } finally {
      await owner.destroy();
    }
  });

  it('custos migrate creates the runtime role (not a superuser) and hands the trail to a NOLOGIN owner', async () => {
    const migrated = await custos(['migrate']);
    expect(migrated.code, migrated.stderr).to.equal(0);
    expect(migrated.stdout).to.contain(`runtime role ${runtimeRole}`);
    const { rows: roles } = await superuser.raw('SELECT rolname, rolsuper, rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = ANY(?) ORDER BY rolname', [[runtimeRole, ownerRole]]);
    expect(roles).to.deep.include({ rolname: runtimeRole, rolsuper: false, rolcanlogin: true, rolcreaterole: false });
    expect(roles).to.deep.include({ rolname: ownerRole, rolsuper: false, rolcanlogin: false, rolcreaterole: false });
    const { rows: tables } = await superuser.raw(`SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class
      WHERE relname IN ('audit_events', 'audit_chain', 'audit_checkpoints', 'audit_settings') ORDER BY relname`);
    expect(tables.map((t: { owner: string }) => t.owner)).to.deep.equal([ownerRole, ownerRole, ownerRole, ownerRole]);
    const { rows: [privileges] } = await superuser.raw(`SELECT
      bool_or(has_table_privilege(?, t, p)) AS any_change, bool_and(has_table_privilege(?, t, 'SELECT')) AS reads,
      has_function_privilege(?, 'audit_purge_through(bigint)', 'EXECUTE') AS purges, pg_has_role(?, ?, 'MEMBER') AS owner_member
      FROM unnest(ARRAY['audit_events', 'audit_chain', 'audit_checkpoints', 'audit_settings']) t, unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) p`,
    [runtimeRole, runtimeRole, runtimeRole, runtimeRole, ownerRole]);
    expect(privileges).to.deep.equal({ any_change: false, reads: true, purges: true, owner_member: false });
    // Running it again (an upgrade) changes nothing and still succeeds.
    const again = await custos(['migrate']);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('database is up to date');

    scratch = isolatedApp({ DATABASE_URL: superuserUrl });
    const { rows: [me] } = await scratch.container.platform.db.raw('SELECT current_user AS role');
    expect(me.role, 'the application connects as the runtime role').to.equal(runtimeRole);
  });

  it('as the runtime role: no DELETE, UPDATE or TRUNCATE even after SET custos.audit_purge_through, no forged purge event, no back-dated event', async () => {
    // The scratch trail, oldest first: a range as of 500 days ago, one as of 2 days ago, then today's.
    old = await pastRange(500, 3);
    recent = await pastRange(2, 2);
    await scratch.container.audit.record({ actor: { kind: 'system' }, action: 'test.today', outcome: 'allowed' });
    today = await sealAndSign(new Date());
    const runtime = scratch.container.platform.db;
    for (const sql of ['DELETE FROM audit_events', 'DELETE FROM audit_chain', 'UPDATE audit_events SET reason = NULL', 'TRUNCATE audit_events',
      'TRUNCATE audit_chain', 'DELETE FROM audit_checkpoints', 'UPDATE audit_settings SET retention_days = 1']) {
      const message = await refusal(() => runtime.transaction(async (trx) => {
        await trx.raw("SET LOCAL custos.audit_purge_through = '999999'");
        await trx.raw(sql);
      }));
      expect(message, sql).to.match(/permission denied/);
    }
    expect(await refusal(() => runtime.raw(`INSERT INTO audit_events (actor_kind, action, outcome, resource_type, resource_ids, detail)
      VALUES ('system', 'audit.purge', 'allowed', 'audit_range', ARRAY[?], 'retention 400 days: forged')`, [String(today.seq)])))
      .to.match(/only audit_purge_through\(\) records an audit.purge event/);
    expect(await refusal(() => runtime.raw(`INSERT INTO audit_events (occurred_at, actor_kind, action, outcome)
      VALUES (now() - interval '1000 days', 'system', 'test.backdated', 'allowed')`))).to.match(/permission denied/);
    expect(Number((await runtime('audit_events').count('* as n'))[0].n), 'nothing was removed').to.equal(6);
  });

  it('enforces the recorded retention in the database: a shorter CUSTOS_AUDIT_RETENTION_DAYS or a direct call purges nothing recent', async () => {
    const runtime = scratch.container.platform.db;
    for (const checkpoint of [recent, today]) {
      expect(await refusal(() => runtime.raw('SELECT audit_purge_through(?)', [checkpoint.seq]))).to.match(/within the 400 day retention period/);
    }
    // The runtime asks for 1 day; the database recorded 400 at `custos migrate`: only the 500-day-old range goes.
    const purge = await custos(['audit', 'purge'], { CUSTOS_AUDIT_RETENTION_DAYS: '1' });
    expect(purge.code, purge.stderr).to.equal(0);
    expect(purge.stdout).to.contain(`removed 3 events through ${old.seq} (retention 400 days)`);
    const left = await runtime('audit_events').orderBy('seq').select('seq', 'action', 'actor_kind', 'detail');
    expect(left.map((e: { action: string }) => e.action)).to.deep.equal(['test.past', 'test.past', 'test.today', 'audit.purge']);
    expect(left.at(-1).detail).to.equal(`retention 400 days: removed 3 events through ${old.seq}; the chain continues from checkpoint #${old.id}`);
  });

  it('verifies a legitimate purge of an old checkpointed range as intact, through the CLI and the API', async () => {
    const cli = await custos(['audit', 'verify']);
    expect(cli.code, cli.stdout + cli.stderr).to.equal(0);
    expect(cli.stdout).to.match(/^intact up to event \d+\n$/);
    expect(cli.stderr).to.contain(`starting from purge anchor checkpoint #${old.id} (event ${old.seq})`);
    dpo = await createStaff('dpo', scratch);
    const res = await scratch.api().get('/api/v1/audit/verify').set(dpo.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ intact: true });
    expect(res.body.anchor).to.deep.equal({ seq: old.seq, checkpointId: old.id });
  });

  it('reports recent events deleted behind a forged purge event as broken, naming it, through the CLI and the API', async () => {
    // What an attacker able to bypass the triggers would do: remove everything through today's
    // checkpoint and write the purge event audit_purge_through() would have written.
    await superuser.transaction(async (trx) => {
      await trx.raw("SET LOCAL session_replication_role = 'replica'");
      const { rowCount } = await trx.raw('DELETE FROM audit_events WHERE seq <= ?', [today.seq]);
      await trx.raw('DELETE FROM audit_chain WHERE seq <= ?', [today.seq]);
      await trx.raw(`INSERT INTO audit_events (actor_kind, action, outcome, resource_type, resource_ids, detail)
        VALUES ('system', 'audit.purge', 'allowed', 'audit_range', ARRAY[?], ?)`,
      [String(today.seq), `retention 400 days: removed ${rowCount} events through ${today.seq}; the chain continues from checkpoint #${today.id}`]);
    });
    const cli = await custos(['audit', 'verify']);
    expect(cli.code, cli.stdout + cli.stderr).to.equal(1);
    expect(cli.stdout).to.contain(`broken at event 1 (missing): events 1–${today.seq} are gone: the purge event`);
    expect(cli.stdout).to.contain(`naming checkpoint #${today.id} (event ${today.seq}) removed a range inside the 400-day retention period`);
    const res = await scratch.api().get('/api/v1/audit/verify').set(dpo.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.intact).to.equal(false);
    expect(res.body.break).to.include({ seq: 1, kind: 'missing' });
    expect(res.body.break.detail).to.contain('inside the 400-day retention period');
  });

  it('refuses, in production, to run serve or worker as a superuser, naming the fix', async () => {
    for (const role of ['serve', 'worker']) {
      const started = await runCli([role], { env: { NODE_ENV: 'production', DATABASE_URL: superuserUrl, PORT: '0' } });
      expect(started.code, role).to.not.equal(0);
      expect(started.stderr, role).to.contain(`refusing to run ${role} as PostgreSQL superuser "postgres" in production`);
      expect(started.stderr, role).to.contain('CUSTOS_MIGRATION_DATABASE_URL');
      expect(started.stderr, role).to.contain(`postgres://${runtimeRole}:PASSWORD@`);
    }
  });
});
