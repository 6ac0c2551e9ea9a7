// The S3 driver end to end, through the API and the backup service: an export is requested,
// built by a worker into the artifact bucket, and downloaded whole and by Range; a data and a
// key-store backup land in their own buckets and verify. Nothing is written to local disk.
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestKeyOf } from '../../src/modules/backups/manifest.js';
import { startWorkers, type RunningRole } from '../../src/roles.js';
import { isolatedApp } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from '../support/s3.js';
import { decryptWithPassphrase, waitFor } from '../privacy/support.js';

describe('S3 storage end to end: export download with Range, backups in their own buckets', function () {
  this.timeout(120_000);
  let s3: TestS3;
  let app: ReturnType<typeof isolatedApp>;
  let workers: RunningRole | undefined;
  let raw: S3Client;
  const savedEnv: Record<string, string | undefined> = {};
  const localDirs = { artifacts: '', backups: '', keystore: '' };
  const keysIn = async (bucket: string) => ((await raw.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!);

  before(async () => {
    s3 = await startS3(['e2e-artifacts', 'e2e-backups', 'e2e-keystore']);
    const base = mkdtempSync(join(tmpdir(), 'custos-s3e2e-'));
    Object.assign(localDirs, { artifacts: join(base, 'artifacts'), backups: join(base, 'backups'), keystore: join(base, 'keystore') });
    app = isolatedApp({
      ...s3.env({ artifacts: 'e2e-artifacts', backups: 'e2e-backups', keystore: 'e2e-keystore' }),
      // its own queues, so no other test's worker (local storage) takes these jobs
      CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_s3e2e`,
      CUSTOS_ARTIFACT_DIR: localDirs.artifacts,
      CUSTOS_BACKUP_DIR: localDirs.backups,
      CUSTOS_KEYSTORE_BACKUP_DIR: localDirs.keystore,
    });
    // The SDK's default credential chain reads the process environment (as in production).
    for (const [k, v] of Object.entries({ AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey })) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    raw = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  });

  after(async () => {
    await workers?.close();
    await app?.container.platform.queues.close().catch(() => {});
    await app?.close();
    raw?.destroy();
    await s3?.close();
    for (const [k, v] of Object.entries(savedEnv)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  });

  it('builds an export into the bucket and serves it whole and by byte range', async () => {
    const user = await createUser('s3export');
    const passphrase = 'an s3 export passphrase';
    const created = await app.api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password });
    expect(created.status, JSON.stringify(created.body)).to.equal(202);
    workers = startWorkers(app.container);
    await waitFor(async () => {
      const res = await app.api().get(`/api/v1/me/exports/${created.body.id}`).set(user.auth);
      expect(res.body.status).to.not.equal('failed');
      return res.body.status === 'completed';
    }, 90_000);
    const binary = (req: ReturnType<ReturnType<typeof app.api>['get']>) => req.buffer(true)
      .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });
    const url = `/api/v1/me/exports/${created.body.id}/download`;
    const whole = await binary(app.api().get(url).set(user.auth));
    expect(whole.status).to.equal(200);
    const bytes = whole.body as Buffer;
    expect((await decryptWithPassphrase(bytes, passphrase)).subarray(0, 2).toString()).to.equal('PK');
    const part = await binary(app.api().get(url).set(user.auth).set('Range', 'bytes=10-109'));
    expect(part.status).to.equal(206);
    expect(part.headers['content-range']).to.equal(`bytes 10-109/${bytes.length}`);
    expect((part.body as Buffer).equals(bytes.subarray(10, 110))).to.equal(true);
    const tail = await binary(app.api().get(url).set(user.auth).set('Range', `bytes=${bytes.length - 7}-`));
    expect((tail.body as Buffer).equals(bytes.subarray(bytes.length - 7))).to.equal(true);

    const key = (await app.container.platform.db('privacy_requests').where({ id: created.body.id }).first()).artifact_key;
    expect(await keysIn('e2e-artifacts')).to.deep.equal([key]); // published, no temporary object left
    expect(existsSync(localDirs.artifacts), 'nothing on local disk').to.equal(false);
  });

  it('runs a data and a key-store backup into their own buckets, and both verify from there', async () => {
    const { backups } = app.container;
    const data = await backups.run();
    const verified = await backups.verify({ id: data.id });
    expect(verified.ok, verified.error).to.equal(true);
    const [, keystore] = await backups.runScheduled('2031-03-04');
    const keystoreVerified = await backups.verify({ id: keystore.id });
    expect(keystoreVerified.ok, keystoreVerified.error).to.equal(true);

    const dataKeys = await keysIn('e2e-backups');
    expect(dataKeys).to.include(data.storageKey);
    expect(dataKeys).to.include(manifestKeyOf(data.storageKey!)); // its signed manifest beside it
    expect(await keysIn('e2e-keystore')).to.include(keystore.storageKey);
    expect(dataKeys).to.not.include(keystore.storageKey);
    expect(await keysIn('e2e-artifacts')).to.not.include(data.storageKey);
    for (const dir of [localDirs.backups, localDirs.keystore]) {
      expect(existsSync(dir) ? readdirSync(dir) : [], `nothing in ${dir}`).to.deep.equal([]);
    }
  });
});
