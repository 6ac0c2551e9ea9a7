// Artifact storage (uploaded file bytes, export archives, backups): one interface, a local
// directory by default (an S3-compatible store in storage-s3.ts, chosen in storage-factory.ts). Writes go to a temporary name and are published with an atomic rename,
// so a reader never sees half an artifact and a crash leaves only a *.partial to sweep.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredObject {
  key: string;
  size: number;
  modifiedAt: Date;
}

export interface ArtifactStorage {
  /** Streams `source` into `key`; the object appears only once complete. Returns its size. */
  put(key: string, source: Readable | AsyncIterable<Buffer | string>): Promise<number>;
  /** Opens `key` for reading, optionally a byte range (inclusive end, as in HTTP Range). */
  get(key: string, range?: { start: number; end: number }): Promise<Readable>;
  stat(key: string): Promise<StoredObject | null>;
  delete(key: string): Promise<boolean>;
  /**
   * Objects under a prefix ("exports/", "files/<userId>/"). With `includePartials`, also the
   * temporary files of writes in progress or crashed (an erasure must remove those too).
   */
  list(prefix: string, options?: { includePartials?: boolean }): Promise<StoredObject[]>;
  /** Removes temporary files older than `olderThanMs` left by crashed writers. */
  sweepPartials(olderThanMs: number): Promise<number>;
  /** Releases connections (the S3 driver's sockets); the local driver has none. */
  close?(): void;
}

const PARTIAL_SUFFIX = '.partial';

export function createLocalStorage(rootDir: string): ArtifactStorage {
  const root = resolve(rootDir);
  const pathOf = (key: string) => {
    const full = resolve(root, key);
    if (!full.startsWith(root + sep) || key.includes('\0')) throw new Error(`invalid storage key: ${key}`);
    return full;
  };
  const walk = async (dir: string): Promise<string[]> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : Promise.resolve([join(dir, e.name)]))));
    return nested.flat();
  };

  return {
    async put(key, source) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      const temporary = `${target}.${randomUUID()}${PARTIAL_SUFFIX}`;
      try {
        await pipeline(source, createWriteStream(temporary, { mode: 0o600 }));
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
      return (await stat(target)).size;
    },
    async get(key, range) {
      const path = pathOf(key);
      await stat(path); // throws ENOENT before a stream is handed out
      return createReadStream(path, range ? { start: range.start, end: range.end } : {});
    },
    async stat(key) {
      try {
        const s = await stat(pathOf(key));
        return { key, size: s.size, modifiedAt: s.mtime };
      } catch {
        return null;
      }
    },
    async delete(key) {
      const path = pathOf(key);
      try {
        await stat(path);
      } catch {
        return false;
      }
      await rm(path, { force: true });
      return true;
    },
    async list(prefix, options = {}) {
      // Walk only the prefix's directory ('' when the prefix has no '/'), not every user's artifacts.
      const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const files = await walk(dir ? pathOf(dir) : root);
      const objects: StoredObject[] = [];
      for (const file of files) {
        const key = relative(root, file).split(sep).join('/');
        if (!key.startsWith(prefix) || (key.endsWith(PARTIAL_SUFFIX) && !options.includePartials)) continue;
        const s = await stat(file).catch(() => null);
        if (s) objects.push({ key, size: s.size, modifiedAt: s.mtime });
      }
      return objects.sort((a, b) => a.key.localeCompare(b.key));
    },
    async sweepPartials(olderThanMs) {
      let removed = 0;
      for (const file of await walk(root)) {
        if (!file.endsWith(PARTIAL_SUFFIX)) continue;
        const s = await stat(file).catch(() => null);
        if (s && Date.now() - s.mtimeMs > olderThanMs) {
          await rm(file, { force: true });
          removed += 1;
        }
      }
      return removed;
    },
  };
}
