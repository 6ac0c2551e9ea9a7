// One contract for every artifact storage driver: the local directory and an S3-compatible store
// (a real s3rver). Callers (exports, deletion, uploads, backups) rely on exactly this behaviour.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { createLocalStorage, type ArtifactStorage } from '../../src/platform/storage.js';
import { createS3Storage } from '../../src/platform/storage-s3.js';
import { S3RVER_CREDENTIALS, startS3, type TestS3 } from '../support/s3.js';

interface Driver {
  name: string;
  setup(): Promise<{ storage: ArtifactStorage; plantPartial(key: string): Promise<void>; teardown(): Promise<void> }>;
}

const drivers: Driver[] = [
  {
    name: 'local',
    async setup() {
      const root = mkdtempSync(join(tmpdir(), 'custos-storage-'));
      return {
        storage: createLocalStorage(root),
        async plantPartial(key) {
          mkdirSync(dirname(join(root, key)), { recursive: true });
          writeFileSync(join(root, key), 'half');
        },
        async teardown() { rmSync(root, { recursive: true, force: true }); },
      };
    },
  },
  {
    name: 's3',
    async setup() {
      const server: TestS3 = await startS3(['contract']);
      const client = { credentials: S3RVER_CREDENTIALS };
      // Small pages, so listing must follow continuation tokens.
      const storage = createS3Storage({ bucket: 'contract', region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, pageSize: 2, client });
      const raw = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, ...client });
      return {
        storage,
        async plantPartial(key) { await raw.send(new PutObjectCommand({ Bucket: 'contract', Key: key, Body: 'half' })); },
        async teardown() { storage.close?.(); raw.destroy(); await server.close(); },
      };
    },
  },
];

const readAll = async (stream: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
};

for (const driver of drivers) {
  describe(`artifact storage contract: ${driver.name} driver`, function () {
    this.timeout(60_000);
    let storage: ArtifactStorage;
    let plantPartial: (key: string) => Promise<void>;
    let teardown: () => Promise<void>;

    before(async () => ({ storage, plantPartial, teardown } = await driver.setup()));
    after(async () => teardown?.());

    it('stores a stream, reports its size, and reads it back whole and by inclusive byte range', async () => {
      const bytes = randomBytes(70_000);
      expect(await storage.put('exports/u1/a.zip', Readable.from([bytes.subarray(0, 30_000), bytes.subarray(30_000)]))).to.equal(bytes.length);
      expect((await readAll(await storage.get('exports/u1/a.zip'))).equals(bytes)).to.equal(true);
      expect((await readAll(await storage.get('exports/u1/a.zip', { start: 100, end: 199 }))).equals(bytes.subarray(100, 200))).to.equal(true);
      expect((await readAll(await storage.get('exports/u1/a.zip', { start: 69_999, end: 69_999 }))).equals(bytes.subarray(69_999))).to.equal(true);
      const stat = await storage.stat('exports/u1/a.zip');
      expect(stat).to.include({ key: 'exports/u1/a.zip', size: bytes.length });
      expect(stat!.modifiedAt).to.be.instanceOf(Date);
    });

    it('streams an object larger than several multipart parts from an async iterable', async () => {
      const chunk = randomBytes(1024 * 1024);
      async function* twelveMiB() { for (let i = 0; i < 12; i += 1) yield chunk; }
      expect(await storage.put('exports/big/archive', twelveMiB())).to.equal(12 * chunk.length);
      const tail = await readAll(await storage.get('exports/big/archive', { start: 11 * chunk.length, end: 12 * chunk.length - 1 }));
      expect(tail.equals(chunk)).to.equal(true);
      expect(await storage.delete('exports/big/archive')).to.equal(true);
    });

    it('overwrites a key with the new content', async () => {
      await storage.put('files/u2/f', Readable.from([Buffer.from('first')]));
      await storage.put('files/u2/f', Readable.from([Buffer.from('second')]));
      expect((await readAll(await storage.get('files/u2/f'))).toString()).to.equal('second');
    });

    it('never shows an object before its writer finished: not by stat, get or list', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      async function* slow() { yield Buffer.alloc(1000, 1); await gate; yield Buffer.alloc(1000, 2); }
      const writing = storage.put('exports/atomic/x', slow());
      await new Promise((r) => setTimeout(r, 300));
      expect(await storage.stat('exports/atomic/x')).to.equal(null);
      expect(await storage.list('exports/atomic/')).to.deep.equal([]);
      let error: unknown;
      await storage.get('exports/atomic/x').catch((e) => { error = e; });
      expect(error, 'get of an unfinished object').to.be.instanceOf(Error);
      release();
      expect(await writing).to.equal(2000);
      expect((await storage.list('exports/atomic/')).map((o) => o.key)).to.deep.equal(['exports/atomic/x']);
    });

    it('leaves nothing behind when the source fails mid-stream', async () => {
      async function* broken() { yield Buffer.alloc(1000); throw new Error('source broke'); }
      let error: unknown;
      await storage.put('exports/broken/x', broken()).catch((e) => { error = e; });
      expect((error as Error)?.message).to.match(/source broke/);
      expect(await storage.stat('exports/broken/x')).to.equal(null);
      expect(await storage.list('exports/broken/')).to.deep.equal([]);
      expect(await storage.sweepPartials(0)).to.equal(0); // the writer removed its own temporary object
    });

    it('lists by prefix across pages, sorted, without neighbours sharing a name prefix or temporary objects', async () => {
      for (const key of ['files/u3/e', 'files/u3/a', 'files/u3/sub/c', 'files/u3/b', 'files/u3/d', 'files/u30/z']) {
        await storage.put(key, Readable.from([Buffer.from(key)]));
      }
      await plantPartial('files/u3/f.0c0ffee0-0000-4000-8000-000000000000.partial');
      const listed = await storage.list('files/u3/');
      expect(listed.map((o) => o.key)).to.deep.equal(['files/u3/a', 'files/u3/b', 'files/u3/d', 'files/u3/e', 'files/u3/sub/c']);
      expect(listed[0].size).to.equal('files/u3/a'.length);
      // deletion walks the listing: afterwards nothing of u3 is left, u30 untouched
      for (const o of listed) expect(await storage.delete(o.key)).to.equal(true);
      expect(await storage.list('files/u3/')).to.deep.equal([]);
      expect((await storage.list('files/u30/')).map((o) => o.key)).to.deep.equal(['files/u30/z']);
      expect(await storage.sweepPartials(-60_000)).to.equal(1); // the planted one, for the next test
    });

    it('sweeps temporary objects a crashed writer left, only once they are older than asked', async () => {
      await plantPartial('exports/crash/y.11111111-1111-4111-8111-111111111111.partial');
      expect(await storage.sweepPartials(60 * 60 * 1000)).to.equal(0);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await storage.sweepPartials(500)).to.equal(1);
      expect(await storage.sweepPartials(0)).to.equal(0);
    });

    it('reports missing objects: stat null, delete false, get rejects', async () => {
      expect(await storage.stat('exports/none/x')).to.equal(null);
      expect(await storage.delete('exports/none/x')).to.equal(false);
      let error: unknown;
      await storage.get('exports/none/x').catch((e) => { error = e; });
      expect(error).to.be.instanceOf(Error);
      await storage.put('exports/none/y', Readable.from([Buffer.from('y')]));
      expect(await storage.delete('exports/none/y')).to.equal(true);
      expect(await storage.stat('exports/none/y')).to.equal(null);
    });

    it('refuses keys that escape the store', async () => {
      for (const key of ['../outside', 'files/../../outside', 'files/\0x']) {
        let error: unknown;
        await storage.put(key, Readable.from([Buffer.from('x')])).catch((e) => { error = e; });
        expect(error, key).to.be.instanceOf(Error);
      }
    });
  });
}
