// Issue 14, failure 13: after `keys rotate` and retiring key 1, restoring the newest key-store
// backup taken before the rotation broke every login. Now rotation takes a key-store backup at
// once, each key-store backup records the master-key versions it needs, and `custos keys retire`
// refuses while a retained key-store backup still needs the version, naming it and its expiry.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { custos, db } from './support.js';

type KeyRow = { id: string; kek_version: number; wrapped_key: Buffer };
const idFrom = (stdout: string) => /backup ([0-9a-f-]{36})/.exec(stdout)![1];

describe('backups: retiring a master key waits for the key-store backups that need it', function () {
  this.timeout(180_000);
  const keys = () => db().withSchema('keystore').table('data_keys');
  let snapshot: KeyRow[] = [];
  const newKey = `2:${randomBytes(32).toString('base64')}`;
  const bothKeys = () => `${process.env.CUSTOS_MASTER_KEYS},${newKey}`;

  after(async () => {
    // The rest of the suite's container holds only version 1: put the key store back.
    for (const row of snapshot) await keys().where({ id: row.id }).update({ kek_version: row.kek_version, wrapped_key: row.wrapped_key });
    await keys().whereNotIn('id', snapshot.map((r) => r.id)).delete();
  });

  it('rotation backs up the key store at once; retiring version 1 is refused while an older key-store backup needs it', async () => {
    await createUser('retire');
    const before = await custos(['backup', 'run', '--keystore']);
    expect(before.code, before.stderr).to.equal(0);
    const oldBackup = idFrom(before.stdout);
    snapshot = await keys().select('id', 'kek_version', 'wrapped_key');

    const rotated = await custos(['keys', 'rotate'], { CUSTOS_MASTER_KEYS: bothKeys() });
    expect(rotated.code, rotated.stderr).to.equal(0);
    const fresh = /key-store backup ([0-9a-f-]{36}) taken: it needs only master key version 2/.exec(rotated.stdout)?.[1];
    expect(fresh, rotated.stdout).to.be.a('string');
    expect(rotated.stdout).to.match(/master key version 1: still needed by \d+ retained key-store backup\(s\) until \d{4}-\d\d-\d\dT/);

    const retire = await custos(['keys', 'retire', '1'], { CUSTOS_MASTER_KEYS: bothKeys() });
    expect(retire.code).to.equal(1);
    const oldRun = (await testContainer().backups.get(oldBackup))!;
    const until = new Date(oldRun.startedAt.getTime() + 7 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(retire.stderr).to.include('refusing to retire master key version 1');
    expect(retire.stderr).to.include(`key-store backup ${oldBackup}`);
    expect(retire.stderr).to.include(`is kept until ${until}`);
    expect(retire.stderr).to.include('CUSTOS_KEYSTORE_BACKUP_RETENTION_DAYS=7');
    expect(retire.stderr).not.to.include(`key-store backup ${fresh} `);
    expect(retire.stderr).not.to.match(/\n\s+at .+:\d+:\d+/);

    // The newest version is never retirable; nor a version data keys are still wrapped by.
    const newest = await custos(['keys', 'retire', '2'], { CUSTOS_MASTER_KEYS: bothKeys() });
    expect(newest.code).to.equal(1);
    expect(newest.stderr).to.match(/version 2 is the newest master key/);
  });

  it('counts a key-store backup only until it expires, and never one that does not hold the version', async () => {
    const { backups } = testContainer();
    const [fresh] = await backups.list({ kind: 'keystore', limit: 1 });
    const needsNow = await backups.keystoreBackupsNeeding(1);
    expect(needsNow.map((n) => n.run.id)).not.to.include(fresh.id);
    expect(needsNow.length).to.be.greaterThan(0);
    const afterAll = await backups.keystoreBackupsNeeding(1, { now: new Date(Date.now() + 8 * 86_400_000) });
    expect(afterAll).to.deep.equal([]);
    expect((await backups.keystoreBackupsNeeding(2)).map((n) => n.run.id)).to.include(fresh.id);
  });

  it('refuses to rotate without the backup passphrase, before re-wrapping anything', async () => {
    const result = await custos(['keys', 'rotate'], { CUSTOS_MASTER_KEYS: bothKeys(), CUSTOS_BACKUP_PASSPHRASE: undefined });
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/CUSTOS_BACKUP_PASSPHRASE .*rotation takes a key-store backup/);
  });
});
