// archiver 8 ships no types and @types/archiver describes the pre-ESM API; only what we use.
declare module 'archiver' {
  import type { Readable, Transform } from 'node:stream';
  export class ZipArchive extends Transform {
    constructor(options?: { zlib?: { level?: number; chunkSize?: number }; store?: boolean });
    append(source: Readable | Buffer | string, data: { name: string; date?: Date; store?: boolean }): this;
    finalize(): Promise<void>;
    abort(): this;
    pointer(): number;
  }
}
