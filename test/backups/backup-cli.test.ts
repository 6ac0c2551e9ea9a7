// The operator's path: `custos backup run|verify|decrypt|restore|list` as child processes, and the
// README's break-glass line with the real openssl and pg_restore.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { testContainer } from '../support/app.js';
import { tempDir } from '../support/temp.js';
import { createUser } from '../support/accounts.js';
import { backupFile, custos, opensslRestoreList, readBackup } from './support.js';
import { optionalTool, requireTool } from '../support/tools.js';

const passphrase = () => process.env.CUSTOS_BACKUP_PASSPHRASE!;
const idFrom = (stdout: string) => /backup ([0-9a-f-]{36})/.exec(stdout)![1];

describe('custos backup (CLI)', function () {
  this.timeout(120_000);
  let canaryEmail: string;
  let dataId: string;

  before(async () => {
    const user = await createUser('backupcanary');
    canaryEmail = user.email;
    const run = await custos(['backup', 'run']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/succeeded in/);
    expect(run.stderr).to.match(/pg_dump data \(tables\)/); // progress on stderr
    dataId = idFrom(run.stdout);
  });

  it('writes a file that plain openssl decrypts into a pg_dump archive (the break-glass line)', async function () {
    requireTool(this, 'openssl', 'pg_restore');
    const run = (await testContainer().backups.get(dataId))!;
    const bytes = readBackup('data', run.storageKey!);
    expect(bytes.subarray(0, 8).toString('latin1')).to.equal('Salted__');
    const listed = opensslRestoreList(backupFile('data', run.storageKey!), passphrase());
    expect(listed.status, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(/TABLE DATA public users /);
    expect(listed.stdout).to.match(/TABLE public backup_runs /);
    // The key store is backed up apart, never inside the data backup.
    expect(listed.stdout).not.to.match(/keystore/);
  });

  it('never lets the plaintext appear in the backup file (canary)', async function () {
    requireTool(this, 'pg_restore');
    const run = (await testContainer().backups.get(dataId))!;
    expect(readBackup('data', run.storageKey!).includes(Buffer.from(canaryEmail))).to.equal(false);
    // ...while the decrypted archive really holds it, so the check above can fail.
    const out = join(tempDir('backup'), 'plain.dump');
    const decrypted = await custos(['backup', 'decrypt', dataId, '--out', out]);
    expect(decrypted.code, decrypted.stderr).to.equal(0);
    expect(decrypted.stdout).to.match(/matches the signed manifest/);
    expect(statSync(out).mode & 0o777).to.equal(0o600);
    const sql = spawnSync('pg_restore', ['--data-only', '--table=users', '-f', '-', out], { encoding: 'utf8' });
    expect(sql.stdout).to.include(canaryEmail);
  });

  it('backs up the key store into its own directory', async function () {
    const run = await custos(['backup', 'run', '--keystore']);
    expect(run.code, run.stderr).to.equal(0);
    const backup = (await testContainer().backups.get(idFrom(run.stdout)))!;
    expect(backup.kind).to.equal('keystore');
    expect(existsSync(backupFile('keystore', backup.storageKey!))).to.equal(true);
    expect(existsSync(backupFile('data', backup.storageKey!))).to.equal(false);
    if (!optionalTool('openssl', 'pg_restore')) return;
    const listed = opensslRestoreList(backupFile('keystore', backup.storageKey!), passphrase());
    expect(listed.stdout).to.match(/TABLE DATA keystore data_keys /);
    expect(listed.stdout).not.to.match(/public users/);
  });

  it('verifies by restoring into a scratch database, compares row counts, drops it and records the result', async () => {
    const verified = await custos(['backup', 'verify', '--latest']);
    expect(verified.code, verified.stdout + verified.stderr).to.equal(0);
    expect(verified.stdout).to.match(new RegExp(`verify PASSED for backup ${dataId}`));
    expect(verified.stdout).to.match(/ok {4}public\.users: \d+ row\(s\) in the backup, \d+ restored/);
    const run = (await testContainer().backups.get(dataId))!;
    expect(run.verifyStatus).to.equal('passed');
    expect(run.verifiedAt).to.be.instanceOf(Date);
    expect(run.verifyDurationMs).to.be.a('number');
    const scratch = await testContainer().platform.db.raw(`SELECT datname FROM pg_database WHERE datname LIKE 'custos_verify_%'`);
    expect(scratch.rows).to.deep.equal([]);
  });

  it('refuses to decrypt with a wrong passphrase, with a clear message and no stack trace', async () => {
    const out = join(tempDir('backup'), 'x.dump');
    const result = await custos(['backup', 'decrypt', '--latest', '--out', out], { CUSTOS_BACKUP_PASSPHRASE: 'not-the-passphrase' });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('custos: wrong passphrase or not an OpenSSL-encrypted file');
    expect(result.stderr).not.to.match(/\n\s+at /);
    expect(existsSync(out)).to.equal(false);
  });

  it('refuses every backup command without a passphrase, naming the variable', async () => {
    const before = (await testContainer().backups.list({ limit: 500 })).length;
    for (const args of [['backup', 'run'], ['backup', 'verify', '--latest'], ['backup', 'decrypt', '--latest', '--out', '/tmp/never']]) {
      const result = await custos(args, { CUSTOS_BACKUP_PASSPHRASE: undefined, CUSTOS_BACKUP_PASSPHRASE_FILE: undefined });
      expect(result.code, args.join(' ')).to.equal(1);
      expect(result.stderr).to.include('CUSTOS_BACKUP_PASSPHRASE');
      expect(result.stderr).to.match(/refusing/);
    }
    expect((await testContainer().backups.list({ limit: 500 })).length).to.equal(before);
    // The service itself starts without it: listing needs no passphrase.
    const listed = await custos(['backup', 'list'], { CUSTOS_BACKUP_PASSPHRASE: undefined });
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.include(dataId);
  });

  it('restores into an empty database, and refuses a non-empty one unless told', async () => {
    const name = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_restore`;
    const admin = testContainer().platform.db;
    await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE "${name}"`);
    const into = withDatabaseName(process.env.DATABASE_URL!, name);
    try {
      const first = await custos(['backup', 'restore', dataId, '--into', into]);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/restored backup/);
      const target = createDb(into, 1);
      try {
        const users = await target('users').where({ email: canaryEmail });
        expect(users).to.have.length(1);
      } finally {
        await target.destroy();
      }
      const again = await custos(['backup', 'restore', dataId, '--into', into]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.match(/refusing to restore over it \(add --force-non-empty/);
      const forced = await custos(['backup', 'restore', dataId, '--into', into, '--force-non-empty']);
      expect(forced.code, forced.stderr).to.equal(0);
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });

  it('reads a passphrase from CUSTOS_BACKUP_PASSPHRASE_FILE', async () => {
    const file = join(tempDir('pass'), 'passphrase');
    spawnSync('sh', ['-c', `printf '%s\\n' "$P" > "${file}"`], { env: { ...process.env, P: passphrase() } });
    expect(readFileSync(file, 'utf8').trim()).to.equal(passphrase());
    const out = join(tempDir('backup'), 'y.dump');
    const result = await custos(['backup', 'decrypt', dataId, '--out', out], { CUSTOS_BACKUP_PASSPHRASE: undefined, CUSTOS_BACKUP_PASSPHRASE_FILE: file });
    expect(result.code, result.stderr).to.equal(0);
  });
});
