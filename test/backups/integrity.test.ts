// CBC has no integrity: these tests show the manifest and hashes catch what the cipher cannot,
// and that the Node stream and the openssl command read each other's files.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createOpenSslDecryptor, createOpenSslEncryptor } from '../../src/platform/crypto/openssl-enc.js';
import type { BackupRun } from '../../src/modules/backups/backups-types.js';
import { testContainer } from '../support/app.js';
import { tempDir } from '../support/temp.js';
import { backupFile } from './support.js';
import { requireTool } from '../support/tools.js';

async function decryptNode(file: string, passphrase: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(createReadStream(file, { highWaterMark: 1000 }), createOpenSslDecryptor(passphrase), sink);
  return Buffer.concat(chunks);
}

describe('backups: OpenSSL format and tamper detection', function () {
  this.timeout(60_000);
  const dir = tempDir('enc');

  it('decrypts, with the Node stream, files written by `openssl enc` (sizes around the block boundary)', async function () {
    requireTool(this, 'openssl');
    for (const size of [0, 1, 15, 16, 17, 100_003]) {
      const plain = randomBytes(size);
      writeFileSync(join(dir, 'p'), plain);
      const made = spawnSync('openssl', ['enc', '-aes-256-cbc', '-pbkdf2', '-iter', '100000', '-md', 'sha256', '-in', join(dir, 'p'), '-out', join(dir, 'c'), '-pass', 'pass:s3cret pass'], { encoding: 'utf8' });
      expect(made.status, made.stderr).to.equal(0);
      expect((await decryptNode(join(dir, 'c'), 's3cret pass')).equals(plain), `size ${size}`).to.equal(true);
    }
  });

  it('writes files that `openssl enc -d` decrypts, and reports both SHA-256 digests', async function () {
    requireTool(this, 'openssl');
    const plain = randomBytes(70_001);
    const encryptor = await createOpenSslEncryptor('another pass');
    const chunks: Buffer[] = [];
    encryptor.on('data', (c: Buffer) => chunks.push(c));
    await pipeline(Readable.from([plain.subarray(0, 5), plain.subarray(5)]), encryptor);
    writeFileSync(join(dir, 'n'), Buffer.concat(chunks));
    const opened = spawnSync('openssl', ['enc', '-d', '-aes-256-cbc', '-pbkdf2', '-iter', '100000', '-md', 'sha256', '-in', join(dir, 'n'), '-pass', 'pass:another pass']);
    expect(opened.status).to.equal(0);
    expect(opened.stdout.equals(plain)).to.equal(true);
    const sha = (b: Buffer) => spawnSync('sha256sum', { input: b, encoding: 'utf8' }).stdout.split(' ')[0];
    expect(encryptor.digests().plaintext).to.deep.equal({ sha256: sha(plain), size: plain.length });
    expect(encryptor.digests().ciphertext.sha256).to.equal(sha(Buffer.concat(chunks)));
  });

  it('rejects a wrong passphrase and a file that is not OpenSSL-encrypted with one clear message', async function () {
    requireTool(this, 'openssl');
    writeFileSync(join(dir, 'p2'), randomBytes(4096));
    // CBC has no integrity, so a wrong passphrase is noticed only by the padding, which comes out
    // valid for about 1 wrong key in 256 (a restore then fails on the manifest's SHA-256, see below).
    // A fixed salt and plaintext make this file one whose wrong-passphrase padding is invalid, every
    // run; with our encryptor's random salt the test failed about once in 256 runs.
    const fixed = Buffer.concat(Array.from({ length: 128 }, (_, i) => createHash('sha256').update(`backup page ${i}`).digest()));
    writeFileSync(join(dir, 'fixed'), fixed);
    const salt = '0011223344556677';
    // With -S, OpenSSL 3 leaves the `Salted__` header out; the file gets it as `openssl enc` writes it otherwise.
    const sealed = spawnSync('openssl', ['enc', '-aes-256-cbc', '-pbkdf2', '-iter', '100000', '-md', 'sha256', '-S', salt, '-in', join(dir, 'fixed'), '-pass', 'pass:right']);
    expect(sealed.status, String(sealed.stderr)).to.equal(0);
    writeFileSync(join(dir, 'c2'), Buffer.concat([Buffer.from('Salted__'), Buffer.from(salt, 'hex'), sealed.stdout]));
    expect((await decryptNode(join(dir, 'c2'), 'right')).equals(fixed)).to.equal(true);
    for (const [file, pass] of [[join(dir, 'c2'), 'wrong'], [join(dir, 'p2'), 'right']]) {
      let error: Error | undefined;
      try {
        await decryptNode(file, pass);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).to.equal('wrong passphrase or not an OpenSSL-encrypted file');
    }
  });

  describe('a stored backup', () => {
    let run: BackupRun;
    let original: Buffer;
    const file = () => backupFile('data', run.storageKey!);
    before(async () => {
      run = await testContainer().backups.run();
      original = readFileSync(file());
    });
    afterEach(() => writeFileSync(file(), original));

    it('passes verification untouched', async () => {
      const result = await testContainer().backups.verify({ id: run.id });
      expect(result.ok, result.error).to.equal(true);
      expect(result.tables.length).to.be.greaterThan(5);
    });

    it('fails verification when one byte is altered, and records why', async () => {
      const altered = Buffer.from(original);
      altered[Math.floor(altered.length / 2)] ^= 0x01;
      writeFileSync(file(), altered);
      const result = await testContainer().backups.verify({ id: run.id });
      expect(result.ok).to.equal(false);
      expect(result.error).to.match(/does not match the SHA-256 in its signed manifest: altered/);
      const recorded = (await testContainer().backups.get(run.id))!;
      expect(recorded.verifyStatus).to.equal('failed');
      expect(recorded.verifyError).to.match(/altered/);
    });

    it('refuses to decrypt a truncated file', async () => {
      truncateSync(file(), original.length - 16);
      let error: Error | undefined;
      try {
        await testContainer().backups.decryptTo({ id: run.id }, join(dir, 'out.dump'));
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).to.match(/truncated or altered/);
    });

    it('detects a swapped file (another backup under this name) and a forged manifest', async () => {
      const other = await testContainer().backups.run();
      copyFileSync(backupFile('data', other.storageKey!), file());
      const swapped = await testContainer().backups.verify({ id: run.id });
      expect(swapped.ok).to.equal(false);
      expect(swapped.error).to.match(/truncated or altered|altered/);

      writeFileSync(file(), original);
      const manifestPath = file().replace(/\.dump\.enc$/, '.manifest.json');
      const signed = JSON.parse(readFileSync(manifestPath, 'utf8'));
      const saved = readFileSync(manifestPath);
      signed.manifest.rowCounts['public.users'] += 1;
      writeFileSync(manifestPath, JSON.stringify(signed));
      try {
        const forged = await testContainer().backups.verify({ id: run.id });
        expect(forged.ok).to.equal(false);
        expect(forged.error).to.match(/invalid signature/);
      } finally {
        writeFileSync(manifestPath, saved);
      }
    });
  });
});
