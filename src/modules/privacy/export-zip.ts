// A streaming ZIP writer for export archives: entries one after the other, each deflated by
// zlib (on the libuv pool) or stored, with its CRC-32 (zlib.crc32, native) and SHA-256 (for the
// manifest) taken in the same pass, and ZIP64 records wherever a size, an offset or the entry
// count no longer fits the classic fields (an export of a big account passes 4 GiB). Why not
// archiver: its JavaScript CRC-32 and several stream hops per chunk were a fifth of the
// export's thread time (issue 15, bench/results/privacy.md). Readers: unzip, Python's zipfile,
// Windows Explorer and macOS Archive Utility read the central directory this writes.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { crc32, createDeflateRaw, type ZlibOptions } from 'node:zlib';

const U32 = 0xffffffff;
const FLAGS = 0x0008 | 0x0800; // sizes in a data descriptor after the data; UTF-8 names
const MADE_BY_UNIX = 3 << 8;
const FILE_MODE = 0o100644;

export interface ZipEntryResult {
  bytes: number;
  sha256: string;
}

interface Central {
  name: Buffer;
  method: number;
  time: number;
  date: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
}

/** MS-DOS date and time (local time, 2-second resolution), as zip tools show them. */
function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

export interface ZipWriterOptions {
  /** zlib level for deflated entries. */
  level: number;
  /** zlib output chunk size. */
  chunkSize: number;
}

export class ZipWriter {
  private offset = 0;
  private readonly entries: Central[] = [];

  constructor(private readonly sink: Writable, private readonly options: ZipWriterOptions) {}

  private async write(buffer: Buffer): Promise<void> {
    this.offset += buffer.length;
    if (!this.sink.write(buffer)) await once(this.sink, 'drain');
  }

  /** Writes one entry from its chunks; resolves once all of it is handed to the sink. */
  async add(path: string, source: AsyncIterable<Buffer> | Iterable<Buffer>, options: { date: Date; store?: boolean }): Promise<ZipEntryResult> {
    const name = Buffer.from(path, 'utf8');
    const method = options.store ? 0 : 8;
    const { time, date } = dosDateTime(options.date);
    const offset = this.offset;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    // crc, sizes: 0 here, in the data descriptor
    local.writeUInt16LE(name.length, 26);
    await this.write(Buffer.concat([local, name]));

    const hash = createHash('sha256');
    let crc = 0;
    let size = 0;
    let compressed = 0;
    if (method === 0) {
      for await (const chunk of source) {
        crc = crc32(chunk, crc);
        hash.update(chunk);
        size += chunk.length;
        await this.write(chunk);
      }
      compressed = size;
    } else {
      // A page of rows (~0.5 MiB of JSON) can queue while the next is read and serialised.
      const deflate = createDeflateRaw({ level: this.options.level, chunkSize: this.options.chunkSize, writableHighWaterMark: 1024 * 1024 } as ZlibOptions);
      const ended = once(deflate, 'end');
      ended.catch(() => {});
      // zlib works on the pool while the next chunk is produced here; its output goes to the
      // sink with the sink's backpressure (pause until drained).
      deflate.on('data', (out: Buffer) => {
        compressed += out.length;
        this.offset += out.length;
        if (!this.sink.write(out)) {
          deflate.pause();
          this.sink.once('drain', () => deflate.resume());
        }
      });
      for await (const chunk of source) {
        crc = crc32(chunk, crc);
        hash.update(chunk);
        size += chunk.length;
        if (!deflate.write(chunk)) await Promise.race([once(deflate, 'drain'), ended]);
      }
      deflate.end();
      await ended;
    }

    const zip64 = size >= U32 || compressed >= U32;
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(compressed), 8);
      descriptor.writeBigUInt64LE(BigInt(size), 16);
    } else {
      descriptor.writeUInt32LE(compressed, 8);
      descriptor.writeUInt32LE(size, 12);
    }
    await this.write(descriptor);
    this.entries.push({ name, method, time, date, crc: crc >>> 0, compressed, size, offset });
    return { bytes: size, sha256: hash.digest('hex') };
  }

  /** The central directory and its end records; then ends the sink. */
  async finish(): Promise<void> {
    const start = this.offset;
    for (const e of this.entries) {
      const extra: bigint[] = [];
      if (e.size >= U32) extra.push(BigInt(e.size));
      if (e.compressed >= U32) extra.push(BigInt(e.compressed));
      if (e.offset >= U32) extra.push(BigInt(e.offset));
      const header = Buffer.alloc(46 + e.name.length + (extra.length ? 4 + 8 * extra.length : 0));
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE(MADE_BY_UNIX | 45, 4);
      header.writeUInt16LE(extra.length ? 45 : 20, 6);
      header.writeUInt16LE(FLAGS, 8);
      header.writeUInt16LE(e.method, 10);
      header.writeUInt16LE(e.time, 12);
      header.writeUInt16LE(e.date, 14);
      header.writeUInt32LE(e.crc, 16);
      header.writeUInt32LE(Math.min(e.compressed, U32), 20);
      header.writeUInt32LE(Math.min(e.size, U32), 24);
      header.writeUInt16LE(e.name.length, 28);
      header.writeUInt16LE(extra.length ? 4 + 8 * extra.length : 0, 30);
      // comment length, disk number start, internal attributes: 0
      header.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
      header.writeUInt32LE(Math.min(e.offset, U32), 42);
      e.name.copy(header, 46);
      if (extra.length) {
        let at = 46 + e.name.length;
        header.writeUInt16LE(0x0001, at);
        header.writeUInt16LE(8 * extra.length, at + 2);
        at += 4;
        for (const v of extra) { header.writeBigUInt64LE(v, at); at += 8; }
      }
      await this.write(header);
    }
    const size = this.offset - start;
    const count = this.entries.length;
    const tail: Buffer[] = [];
    if (count >= 0xffff || size >= U32 || start >= U32) {
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE(MADE_BY_UNIX | 45, 12);
      record.writeUInt16LE(45, 14);
      // this disk, the central directory's disk: 0
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(size), 40);
      record.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(this.offset), 8);
      locator.writeUInt32LE(1, 16);
      tail.push(record, locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(count, 0xffff), 8);
    end.writeUInt16LE(Math.min(count, 0xffff), 10);
    end.writeUInt32LE(Math.min(size, U32), 12);
    end.writeUInt32LE(Math.min(start, U32), 16);
    tail.push(end);
    await this.write(Buffer.concat(tail));
    this.sink.end();
  }
}
