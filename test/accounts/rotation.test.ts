// `custos keys rotate` through the real CLI: every data key re-wrapped under the newest master
// key, progress printed, reads working throughout, and every value still readable afterwards —
// even by a process that holds only the new master key (the old one can be retired).
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser, totpCode } from '../support/accounts.js';
import { runCli } from '../support/cli.js';
// Rotation takes a key-store backup: into the same directories the backups tests use.
import '../backups/support.js';

type KeyRow = { id: string; kek_version: number; wrapped_key: Buffer };

describe('accounts: master key rotation', function () {
  this.timeout(180_000);
  const db = () => testContainer().platform.db;
  const keys = () => db().withSchema('keystore').table('data_keys');
  let snapshot: KeyRow[] = [];
  const apps: Array<ReturnType<typeof isolatedApp>> = [];

  after(async () => {
    // Put the key store back under version 1, which the rest of the suite's container holds.
    for (const row of snapshot) await keys().where({ id: row.id }).update({ kek_version: row.kek_version, wrapped_key: row.wrapped_key });
    await keys().whereNotIn('id', snapshot.map((r) => r.id)).delete();
    for (const app of apps) await app.close();
  });

  it('re-wraps every data key under version 2 while sessions and TOTP stay readable', async () => {
    const user = await createUser('rotation');
    const ua = `rotation-agent-${randomBytes(4).toString('hex')}`;
    const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
    const secret = enrol.body.secret as string;
    const confirmed = await api().post('/api/v1/me/2fa/totp/confirm').set(user.auth).send({ code: totpCode(secret) });
    expect(confirmed.status).to.equal(200);
    // Logged in after 2FA is on (confirming ends sessions opened before it) with a second factor:
    // a recovery code, since this step's TOTP code was just used and a replay is refused.
    const session = await api().post('/api/v1/auth/login').set('User-Agent', ua)
      .send({ email: user.email, password: user.password, recoveryCode: confirmed.body.recoveryCodes[0] });
    expect(session.status, JSON.stringify(session.body)).to.equal(200);
    const sessionAuth = { Authorization: `Bearer ${session.body.token}` };
    snapshot = await keys().select('id', 'kek_version', 'wrapped_key');
    expect(snapshot.length).to.be.greaterThan(0);
    expect(snapshot.every((r) => r.kek_version === 1)).to.equal(true);

    const newKey = `2:${randomBytes(32).toString('base64')}`;
    const bothKeys = `${process.env.CUSTOS_MASTER_KEYS},${newKey}`;
    const both = isolatedApp({ CUSTOS_MASTER_KEYS: bothKeys });
    apps.push(both);

    // Reads during rotation: a process holding both keys, with its key cache emptied before every read.
    let rotating = true;
    const readStatuses: number[] = [];
    const reader = (async () => {
      while (rotating) {
        both.container.platform.keyStore.clearCache();
        const res = await both.api().get('/api/v1/me/sessions').set(sessionAuth);
        readStatuses.push(res.status);
      }
    })();
    const rotated = await runCli(['keys', 'rotate', '--batch-size', '1'], { env: { CUSTOS_MASTER_KEYS: bothKeys } });
    rotating = false;
    await reader;

    expect(rotated.code, rotated.stderr).to.equal(0);
    expect(rotated.stderr).to.match(new RegExp(`${snapshot.length} of ${snapshot.length} data keys are wrapped by an older master key; newest is version 2`));
    expect(rotated.stderr).to.match(new RegExp(`re-wrapping: ${snapshot.length}/${snapshot.length}`));
    expect(rotated.stdout).to.match(new RegExp(`re-wrapped ${snapshot.length} data key\\(s\\); 0 remain on older master keys`));
    expect(rotated.stdout).to.match(/key-store backup [0-9a-f-]{36} taken: it needs only master key version 2/);
    expect(await keys().whereNot({ kek_version: 2 }).count('* as n').first()).to.deep.equal({ n: 0 });
    expect(readStatuses.length).to.be.greaterThan(0);
    expect(readStatuses.every((s) => s === 200), `reads during rotation: ${readStatuses.join(',')}`).to.equal(true);

    // Resumable/idempotent: a second run finds nothing to do.
    const again = await runCli(['keys', 'rotate'], { env: { CUSTOS_MASTER_KEYS: bothKeys } });
    expect(again.stdout).to.match(/re-wrapped 0 data key\(s\); 0 remain/);

    // The old master key retired: a process with only version 2 reads sessions and verifies TOTP.
    const onlyNew = isolatedApp({ CUSTOS_MASTER_KEYS: newKey });
    apps.push(onlyNew);
    const list = await onlyNew.api().get('/api/v1/me/sessions').set(sessionAuth);
    expect(list.status).to.equal(200);
    expect(list.body.items.map((s: { userAgent: string }) => s.userAgent)).to.include(ua);
    const login = await onlyNew.api().post('/api/v1/auth/login').send({ email: user.email, password: user.password, totp: totpCode(secret, Date.now() + 30_000) });
    expect(login.status, JSON.stringify(login.body)).to.equal(200);
    // ... and a process with only the old key can no longer unwrap anything (fails closed: 401).
    const onlyOld = isolatedApp({ CUSTOS_MASTER_KEYS: process.env.CUSTOS_MASTER_KEYS! });
    apps.push(onlyOld);
    expect((await onlyOld.api().get('/api/v1/me').set(sessionAuth)).status).to.equal(401);
  });
});
