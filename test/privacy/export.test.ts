// Export: the round trip a user makes (ask, wait, download, decrypt, unzip, check), with
// openpgp and with GnuPG, by passphrase and by public key; and who may download what, when.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import type { RunningRole } from '../../src/roles.js';
import { api, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { decryptWithPassphrase, download, readZip, seedChatData, startInProcessWorkers, tempDir, waitForExport } from './support.js';
import { optionalTool } from '../support/tools.js';

describe('privacy: data export', function () {
  this.timeout(90_000);
  let workers: RunningRole | undefined;
  after(async () => { await workers?.close(); });

  it('builds an encrypted archive with every entity, opened by openpgp, gpg and unzip, with manifest hashes that match', async () => {
    const user = await createUser('export');
    const passphrase = 'a long export passphrase 42';
    const chat = await seedChatData(user);
    await api().post('/api/v1/auth/login').set('User-Agent', 'second-device/1.0').send({ email: user.email, password: user.password }).expect(200);

    const wrong = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: 'not-my-password' });
    expect(wrong.status).to.equal(401);
    const neither = await api().post('/api/v1/me/exports').set(user.auth).send({ password: user.password });
    expect(neither.status).to.equal(400);

    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    expect(created.body.status).to.equal('received');
    expect(created.headers.location).to.equal(`/api/v1/me/exports/${created.body.id}`);

    const again = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password });
    expect(again.status).to.equal(409);
    expect(again.body.runningRequestId).to.equal(created.body.id);
    expect(again.body.detail).to.contain(created.body.id);

    // The passphrase is nowhere in plaintext: not in the request row, not in the job.
    const { db, queues } = testContainer().platform;
    const row = await db('privacy_requests').where({ id: created.body.id }).first();
    expect(row.passphrase_enc).to.be.instanceOf(Buffer);
    expect(row.passphrase_enc.includes(Buffer.from(passphrase))).to.equal(false);
    const job = await queues.queue('privacy-export').getJob(created.body.id);
    expect(job?.data).to.deep.equal({ requestId: created.body.id });

    workers = startInProcessWorkers();
    const done = await waitForExport(user, created.body.id);
    expect(done.sizeBytes).to.be.greaterThan(0);
    expect(done.progress.rows).to.be.greaterThan(0);
    expect(new Date(done.expiresAt).getTime()).to.be.greaterThan(Date.now() + 6 * 86_400_000);
    expect((await db('privacy_requests').where({ id: created.body.id }).first()).passphrase_enc).to.equal(null);

    const file = await download(user, created.body.id);
    expect(file.status).to.equal(200);
    expect(file.headers['content-type']).to.contain('application/pgp-encrypted');
    const encrypted = file.body as Buffer;
    expect(encrypted.length).to.equal(done.sizeBytes);

    const zip = await decryptWithPassphrase(encrypted, passphrase);
    if (optionalTool('gpg')) {
      const dir = tempDir();
      writeFileSync(join(dir, 'export.zip.gpg'), encrypted);
      const gpg = spawnSync('gpg', ['--homedir', dir, '--batch', '--pinentry-mode', 'loopback', '--passphrase', passphrase, '--decrypt', join(dir, 'export.zip.gpg')], { maxBuffer: 1 << 30 });
      expect(gpg.status, gpg.stderr.toString()).to.equal(0);
      expect(gpg.stdout.equals(zip)).to.equal(true);
    }
    const archive = readZip(zip);
    const manifest = JSON.parse(archive.entry('manifest.json').toString('utf8'));
    expect(manifest.schemaVersion).to.equal(1);
    expect(manifest.requestId).to.equal(created.body.id);
    expect(Date.parse(manifest.createdAt)).to.be.greaterThan(Date.now() - 120_000);
    expect(manifest.files.map((f: { path: string }) => f.path).sort()).to.deep.equal(archive.names.filter((n) => n !== 'manifest.json').sort());
    for (const entry of manifest.files) {
      const bytes = archive.entry(entry.path);
      expect(bytes.length, entry.path).to.equal(entry.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), entry.path).to.equal(entry.sha256);
    }
    expect(archive.entry('README.txt').toString()).to.contain('gpg --decrypt');

    const collection = (path: string) => JSON.parse(archive.entry(path).toString('utf8')) as Array<Record<string, unknown>>;
    const [profile] = collection('data/accounts/profile.json');
    expect(profile).to.include({ id: user.id, email: user.email, status: 'active' });
    const sessions = collection('data/accounts/sessions.json');
    expect(sessions).to.have.length(2);
    expect(sessions.map((s) => s.userAgent)).to.include('second-device/1.0');
    expect(JSON.stringify(sessions)).to.not.match(/data_enc|token/);
    const [twoFactor] = collection('data/accounts/two_factor.json');
    expect(twoFactor).to.include({ totpEnabled: false });
    expect(collection('data/privacy/requests.json').map((r) => r.id)).to.include(created.body.id);
    if (chat) {
      expect(archive.entry('data/chat/messages.json').toString()).to.contain(chat.message);
      const originals = archive.names.filter((n) => n.startsWith('files/chat/'));
      expect(originals.some((n) => archive.entry(n).toString() === chat.fileText), originals.join()).to.equal(true);
    }
    // Credentials never leave: no password hash anywhere in the archive.
    expect(zip.includes(Buffer.from('$2b$'))).to.equal(false);
  });

  it('serves byte ranges (206), only to the owner (404 for anyone else), and 410 once expired', async () => {
    const owner = await createUser('range');
    const stranger = await createUser('stranger');
    const passphrase = 'another passphrase 1234';
    const created = await api().post('/api/v1/me/exports').set(owner.auth).send({ passphrase, password: owner.password }).expect(202);
    workers ??= startInProcessWorkers();
    await waitForExport(owner, created.body.id);
    const whole = (await download(owner, created.body.id)).body as Buffer;

    const part = await download(owner, created.body.id, 'bytes=10-109');
    expect(part.status).to.equal(206);
    expect(part.headers['content-range']).to.equal(`bytes 10-109/${whole.length}`);
    expect((part.body as Buffer).equals(whole.subarray(10, 110))).to.equal(true);
    const tail = await download(owner, created.body.id, `bytes=${whole.length - 5}-`);
    expect(tail.status).to.equal(206);
    expect((tail.body as Buffer).equals(whole.subarray(whole.length - 5))).to.equal(true);
    expect((await download(owner, created.body.id, `bytes=${whole.length + 10}-`)).status).to.equal(416);

    expect((await api().get(`/api/v1/me/exports/${created.body.id}`).set(stranger.auth)).status).to.equal(404);
    expect((await download(stranger, created.body.id)).status).to.equal(404);

    const { db, artifacts } = testContainer().platform;
    await db('privacy_requests').where({ id: created.body.id }).update({ expires_at: new Date(Date.now() - 1000) });
    const gone = await download(owner, created.body.id);
    expect(gone.status).to.equal(410);
    expect(JSON.parse(gone.body.toString()).detail).to.contain('POST /api/v1/me/exports');
    const key = (await db('privacy_requests').where({ id: created.body.id }).first()).artifact_key;
    expect(await artifacts.stat(key)).to.not.equal(null);
    expect(await testContainer().privacy.expireExports()).to.be.greaterThan(0);
    expect(await artifacts.stat(key)).to.equal(null);
    expect((await api().get(`/api/v1/me/exports/${created.body.id}`).set(owner.auth)).body.status).to.equal('expired');
  });

  it('encrypts to a user-supplied public key: openpgp and gpg (with the imported secret key) both decrypt it', async () => {
    const user = await createUser('pubkey');
    const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name: 'Export Test', email: user.email }], format: 'armored' });
    const bad = await api().post('/api/v1/me/exports').set(user.auth).send({ publicKey: `${'x'.repeat(120)}`, password: user.password });
    expect(bad.status).to.equal(400);
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ publicKey, password: user.password }).expect(202);
    expect(created.body.encryption).to.equal('publicKey');
    workers ??= startInProcessWorkers();
    await waitForExport(user, created.body.id);
    const encrypted = (await download(user, created.body.id)).body as Buffer;

    const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(encrypted) });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKey }), format: 'binary' });
    const zip = Buffer.from(data as Uint8Array);
    expect(JSON.parse(readZip(zip).entry('data/accounts/profile.json').toString())[0].email).to.equal(user.email);

    if (optionalTool('gpg')) {
      const home = tempDir();
      writeFileSync(join(home, 'secret.asc'), privateKey);
      writeFileSync(join(home, 'export.zip.gpg'), encrypted);
      const imported = spawnSync('gpg', ['--homedir', home, '--batch', '--import', join(home, 'secret.asc')]);
      expect(imported.status, imported.stderr.toString()).to.equal(0);
      const out = join(home, 'export.zip');
      const gpg = spawnSync('gpg', ['--homedir', home, '--batch', '--output', out, '--decrypt', join(home, 'export.zip.gpg')]);
      expect(gpg.status, gpg.stderr.toString()).to.equal(0);
      expect(readFileSync(out).equals(zip)).to.equal(true);
    }
  });

  it('custos export decrypt opens a passphrase export', async () => {
    const user = await createUser('cli');
    const passphrase = 'cli passphrase 123456';
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password }).expect(202);
    workers ??= startInProcessWorkers();
    await waitForExport(user, created.body.id);
    const dir = tempDir();
    writeFileSync(join(dir, 'export.zip.gpg'), (await download(user, created.body.id)).body as Buffer);
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'export', 'decrypt', '--in', join(dir, 'export.zip.gpg'), '--passphrase', passphrase, '--out', join(dir, 'out.zip')], { encoding: 'utf8', env: process.env });
    expect(ok.status, ok.stderr).to.equal(0);
    expect(readZip(readFileSync(join(dir, 'out.zip'))).names).to.include('manifest.json');
    const wrong = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'export', 'decrypt', '--in', join(dir, 'export.zip.gpg'), '--passphrase', 'wrong passphrase!!', '--out', join(dir, 'bad.zip')], { encoding: 'utf8', env: process.env });
    expect(wrong.status).to.not.equal(0);
    expect(wrong.stderr).to.contain('cannot decrypt');
  });
});
