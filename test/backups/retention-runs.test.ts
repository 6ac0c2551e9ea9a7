// Retention over real runs, not only tidy succeeded rows: an interrupted key-store backup (its
// `custos backup run` killed mid-dump, leaving a .partial and a 'running' row), a run whose
// pg_dump failed, a failed run whose file stayed behind, a key-store file no row accounts for, and stale and fresh .partial files. After prune no
// key-store file older than the window is left (crypto-shredding), while a backup still running
// keeps its temporary file. pg_dump is slowed by a wrapper on PATH that sleeps after dumping, so
// the kill lands while the file is still being written.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BackupRun } from '../../src/modules/backups/backups-types.js';
import { testContainer } from '../support/app.js';
import { tempDir } from '../support/temp.js';
import { backupFile, db } from './support.js';
import { requireTool, toolPath } from '../support/tools.js';
import { waitFor } from '../privacy/support.js';

const DAY = 86_400_000;
const filesIn = (kind: 'data' | 'keystore') => {
  const dir = backupFile(kind, '.');
  return existsSync(dir) ? readdirSync(dir) : [];
};
const age = (path: string, ms: number) => {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
};
const runRow = async (id: string) => (await db()('backup_runs').where({ id }).first());

describe('backups: retention over real runs (failed, interrupted, orphaned, partial)', function () {
  this.timeout(180_000);
  let slowPgDump: string;
  let realPgDump: string;
  const children: ChildProcess[] = [];

  before(function () {
    requireTool(this, 'pg_dump');
    realPgDump = toolPath('pg_dump');
    slowPgDump = tempDir('slow-pg-dump');
    writeFileSync(join(slowPgDump, 'pg_dump'), `#!/bin/sh\n"${realPgDump}" "$@"\nstatus=$?\nsleep 120\nexit $status\n`);
    chmodSync(join(slowPgDump, 'pg_dump'), 0o755);
  });
  after(() => {
    for (const child of children) if (child.exitCode === null && child.pid) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
  });

  /** `custos backup run` in its own process group, pg_dump slowed; resolves once its .partial exists. */
  async function backupStuckMidDump(kind: 'data' | 'keystore'): Promise<{ child: ChildProcess; run: BackupRun; partial: string }> {
    const before = new Set(filesIn(kind));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'backup', 'run', ...(kind === 'keystore' ? ['--keystore'] : [])], {
      env: { ...process.env, PATH: `${slowPgDump}:${process.env.PATH}`, CUSTOS_DEV_SECRETS_FILE: '/nonexistent/custos-dev-secrets.env', CUSTOS_JOB_LEASE_MS: '2000' },
      stdio: 'ignore',
      detached: true,
    });
    children.push(child);
    const partial = await waitFor(async () => filesIn(kind).find((f) => !before.has(f) && f.endsWith('.partial')), 90_000, 100);
    const run = (await testContainer().backups.list({ kind, limit: 1 }))[0];
    expect(partial.startsWith(run.storageKey!), `${partial} belongs to ${run.storageKey}`).to.equal(true);
    return { child, run, partial };
  }

  const kill = async (child: ChildProcess) => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  };

  it('prunes key-store files of every status and none by age, sweeps stale partials, spares a running backup', async () => {
    const { backups } = testContainer();
    const windowDays = testContainer().platform.config.backup.keystoreRetentionDays;

    // A succeeded key-store backup, then made older than the window (row and files).
    const old = await backups.run({ kind: 'keystore' });
    await db()('backup_runs').where({ id: old.id }).update({ started_at: new Date(Date.now() - (windowDays + 3) * DAY) });
    for (const f of [old.storageKey!, old.storageKey!.replace('.dump.enc', '.manifest.json')]) age(backupFile('keystore', f), (windowDays + 3) * DAY);
    // A recent one, kept.
    const recent = await backups.run({ kind: 'keystore' });

    // An interrupted key-store backup: killed mid-dump; its lease runs out; row and partial aged.
    const interrupted = await backupStuckMidDump('keystore');
    await kill(interrupted.child);
    expect((await runRow(interrupted.run.id)).status).to.equal('running');
    await db()('backup_runs').where({ id: interrupted.run.id }).update({ started_at: new Date(Date.now() - (windowDays + 1) * DAY) });
    age(backupFile('keystore', interrupted.partial), (windowDays + 1) * DAY);
    await waitFor(async () => (await runRow(interrupted.run.id)).lease_expires_at.getTime() < Date.now() - 500, 30_000);

    // A failed key-store backup, for real: pg_dump dies half-way (exit 1); nothing of it may stay.
    const brokenPgDump = tempDir('broken-pg-dump');
    writeFileSync(join(brokenPgDump, 'pg_dump'), `#!/bin/sh\n"${realPgDump}" "$@" | head -c 3000\nexit 1\n`);
    chmodSync(join(brokenPgDump, 'pg_dump'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${brokenPgDump}:${path}`;
    const failure = await backups.run({ kind: 'keystore' }).then(() => null, (e: Error) => e);
    process.env.PATH = path;
    expect(failure?.message).to.match(/pg_dump failed/);
    const realFailed = (await backups.list({ kind: 'keystore', limit: 1 }))[0];
    expect(realFailed.status).to.equal('failed');
    // A failed run whose published file stayed behind (its worker was killed while cleaning up):
    // inside the window, so only its status can get it removed.
    const failedKey = `keystore-20200101T000000Z-${randomUUID()}.dump.enc`;
    const [failed] = await db()('backup_runs').insert({ kind: 'keystore', status: 'failed', storage_key: failedKey, error: 'killed', finished_at: new Date() }).returning('id');
    writeFileSync(backupFile('keystore', failedKey), 'wrapped keys of a failed run');
    age(backupFile('keystore', failedKey), DAY);
    const orphan = `keystore-20201001T000000Z-${randomUUID()}.dump.enc`;
    writeFileSync(backupFile('keystore', orphan), 'wrapped keys nobody tracks');
    age(backupFile('keystore', orphan), (windowDays + 30) * DAY);

    // Partials with no run: one stale (a day old), one fresh (could be a writer's right now).
    mkdirSync(backupFile('data', '.'), { recursive: true });
    const stalePartial = `data-20200101T000000Z-${randomUUID()}.dump.enc.${randomUUID()}.partial`;
    const freshPartial = `data-20990101T000000Z-${randomUUID()}.dump.enc.${randomUUID()}.partial`;
    writeFileSync(backupFile('data', stalePartial), 'x');
    age(backupFile('data', stalePartial), DAY);
    writeFileSync(backupFile('data', freshPartial), 'x');

    // A data backup really running during prune: its lease is live and its partial fresh.
    const running = await backupStuckMidDump('data');

    const result = await backups.prune();

    // The interrupted run is recorded as such; its partial is gone.
    const interruptedRow = await runRow(interrupted.run.id);
    expect(interruptedRow.status).to.equal('failed');
    expect(interruptedRow.error).to.match(/interrupted/);
    expect(interruptedRow.deleted_at).to.not.equal(null);
    expect(existsSync(backupFile('keystore', interrupted.partial)), 'partial of the interrupted run').to.equal(false);
    // The failed run's file, the old succeeded backup and the orphan are gone; the recent one stays.
    expect(existsSync(backupFile('keystore', failedKey)), 'file of the failed run').to.equal(false);
    expect((await runRow(failed.id)).deleted_at).to.not.equal(null);
    expect(filesIn('keystore').filter((f) => f.startsWith(realFailed.storageKey!)), 'nothing of the real failed run').to.deep.equal([]);
    expect((await runRow(old.id)).status).to.equal('deleted');
    expect(existsSync(backupFile('keystore', old.storageKey!))).to.equal(false);
    expect(existsSync(backupFile('keystore', orphan)), 'orphaned key-store file').to.equal(false);
    expect(existsSync(backupFile('keystore', recent.storageKey!))).to.equal(true);
    expect(result.sweptFiles.map((f) => f.key)).to.include.members([orphan, stalePartial]);
    // No key-store file older than the window is left, whatever made it.
    const cutoff = Date.now() - windowDays * DAY;
    for (const f of filesIn('keystore')) expect(statSync(backupFile('keystore', f)).mtimeMs, f).to.be.greaterThan(cutoff);
    // Stale partial swept; the fresh one and the running backup's are untouched, its row still running.
    expect(existsSync(backupFile('data', stalePartial))).to.equal(false);
    expect(existsSync(backupFile('data', freshPartial))).to.equal(true);
    expect(existsSync(backupFile('data', running.partial)), 'a running backup keeps its partial').to.equal(true);
    expect((await runRow(running.run.id)).status).to.equal('running');

    await kill(running.child);
  });
});
