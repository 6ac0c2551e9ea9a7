// Builds one export archive: a ZIP (export-zip.ts) streamed straight into OpenPGP encryption
// (openpgp-stream.ts) and into the artifact storage, which publishes it under its final name only
// once complete. Entries are written one at a time from async iterables, so memory stays flat
// whatever the data's size.
// Throughput (issue 15, bench/results/privacy.md): the profile showed the worker's thread idle
// most of the time, waiting on stages run in turn, so reads are done ahead (message pages in the
// repo, the next file here) while zlib (thread pool), AES (OpenSSL) and the disk work.
import * as openpgp from 'openpgp';
import { ZipWriter } from './export-zip.js';
import { createEncryptStream } from './openpgp-stream.js';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { ModuleRegistration } from '../../platform/platform.js';
import type { ExportProgress } from './privacy-types.js';

export const EXPORT_SCHEMA_VERSION = 1;

/**
 * Deflate level 1, chosen: on chat text it keeps ~90% of level 6's reduction (2.7:1 vs 3.0:1 on
 * the benchmark's text) for a fraction of the CPU, and an export is downloaded once. Larger zlib
 * chunks mean fewer hops between zlib's thread and the OpenPGP stream.
 */
const ZLIB_OPTIONS = { level: 1, chunkSize: 256 * 1024 };
/** Formats that are compressed already: deflating them again costs CPU and saves nothing. */
const STORED_EXTENSIONS = /\.(pdf|docx|xlsx|pptx|zip|gz|bz2|xz|7z|png|jpe?g|gif|webp|mp3|mp4|gpg)$/i;

export type ExportRecipient = { passphrase: string } | { publicKey: string };

export interface ManifestEntry {
  path: string;
  bytes: number;
  sha256: string;
}

export interface BuildExportInput {
  requestId: string;
  userId: string;
  artifactKey: string;
  recipient: ExportRecipient;
  modules: ModuleRegistration[];
  artifacts: ArtifactStorage;
  onProgress: (progress: ExportProgress) => Promise<void>;
  /** Stops the build at once (the worker lost its lease: cancelled by a deletion, or taken over). */
  signal?: AbortSignal;
}

export interface BuiltExport {
  artifactBytes: number;
  plaintextBytes: number;
  rows: number;
  files: number;
  manifest: ManifestEntry[];
}

/** "notes/My file?.pdf" -> "notes/My file_.pdf": no absolute paths, no "..", portable characters. */
export const safeArchivePath = (path: string) => path.split(/[\\/]+/).filter((p) => p && p !== '.' && p !== '..')
  .map((p) => p.replace(/[\u0000-\u001f<>:"|?*]/g, '_')).join('/') || 'unnamed';

/**
 * A build failure with a known cause, named by a fixed code: the request row and the DPO view get
 * the code, never the underlying message (which may quote the key's user id, an email).
 */
export class ExportBuildError extends Error {
  override name = 'ExportBuildError';
  constructor(readonly code: 'recipient-key-unusable', options?: { cause?: unknown }) {
    super(code, options);
  }
}

/** Openpgp options for an ASCII-armored public key; rejects keys GnuPG 2.2 or we cannot encrypt to. */
export async function readRecipientKey(armored: string): Promise<openpgp.Key> {
  const key = await openpgp.readKey({ armoredKey: armored });
  if (key.isPrivate()) throw new Error('this is a private key; send the public key only');
  if (key.keyPacket.version !== 4) throw new Error('only version 4 OpenPGP keys are supported (GnuPG 2.2 reads no v6 keys)');
  await key.getEncryptionKey(); // throws when the key has no usable encryption subkey (expired, revoked)
  return key;
}

/** The key was checked when the request was accepted; by the time the job runs it may have expired or been revoked. */
async function recipientKeyForJob(armored: string): Promise<openpgp.Key> {
  try {
    return await readRecipientKey(armored);
  } catch (error) {
    throw new ExportBuildError('recipient-key-unusable', { cause: error });
  }
}

/** A collection's pre-serialised rows (PersonalDataProvider `json`) as the same JSON array jsonArray writes. */
async function* jsonChunks(pages: AsyncIterable<{ chunks: Buffer[]; rows: number }>, counter: { rows: number }): AsyncIterable<Buffer> {
  let first = true;
  yield Buffer.from('[');
  for await (const { chunks, rows } of pages) {
    if (rows === 0) continue;
    yield Buffer.from(first ? '\n' : ',\n');
    yield* chunks;
    first = false;
    counter.rows += rows;
  }
  yield Buffer.from(first ? ']\n' : '\n]\n');
}

async function* jsonArray(rows: AsyncIterable<Record<string, unknown>>, counter: { rows: number }): AsyncIterable<Buffer> {
  let first = true;
  let pending: string[] = [];
  let pendingLength = 0;
  yield Buffer.from('[');
  for await (const row of rows) {
    pending.push(`${first ? '\n' : ',\n'}${JSON.stringify(row)}`);
    pendingLength += pending[pending.length - 1].length;
    first = false;
    counter.rows += 1;
    // Coalesce small rows into ~64 KiB chunks: one zlib write per row would dominate the cost.
    if (pendingLength >= 65_536) {
      yield Buffer.from(pending.join(''));
      pending = [];
      pendingLength = 0;
    }
  }
  pending.push(first ? ']\n' : '\n]\n');
  yield Buffer.from(pending.join(''));
}

function readme(requestId: string, createdAt: string, passphrase: boolean): string {
  return [
    'Your Custos data export',
    '=======================',
    '',
    `Request ${requestId}, created ${createdAt}, schema version ${EXPORT_SCHEMA_VERSION}.`,
    '',
    'This archive holds every piece of personal data we keep about your account (GDPR Art. 15 and 20):',
    '  data/<area>/<collection>.json   one JSON array per collection, one object per record, decrypted',
    '  files/<area>/...                 the original bytes of files you uploaded',
    '  manifest.json                    every file of this archive with its size in bytes and SHA-256',
    '',
    'Check the archive: `unzip -t export.zip`, and compare `sha256sum <file>` with manifest.json.',
    '',
    passphrase
      ? 'The download was encrypted (OpenPGP) with the passphrase you chose: `gpg --decrypt export.zip.gpg > export.zip`, or `custos export decrypt --in export.zip.gpg --passphrase … --out export.zip`.'
      : 'The download was encrypted (OpenPGP) to the public key you supplied: `gpg --decrypt export.zip.gpg > export.zip`.',
    '',
    'Not included: password hashes, TOTP secrets, recovery-code hashes and API-key hashes. They are',
    'credentials, not information about you, and could only help an attacker who got this file.',
    '',
  ].join('\n');
}

export async function buildExport(input: BuildExportInput): Promise<BuiltExport> {
  const createdAt = new Date().toISOString();
  const date = new Date(createdAt);
  // zip -> OpenPGP (SEIPD v1, AES via OpenSSL, no OpenPGP compression: the zip is compressed
  // already) -> artifact storage, each a Node stream with its own backpressure, so zlib (pool),
  // the encryption and the disk work while the next rows are read and serialised.
  const encrypt = await createEncryptStream('passphrase' in input.recipient
    ? { passwords: [input.recipient.passphrase] }
    : { encryptionKeys: await recipientKeyForJob(input.recipient.publicKey) }, date);
  const zip = new ZipWriter(encrypt, ZLIB_OPTIONS);
  const stored = input.artifacts.put(input.artifactKey, encrypt);
  // A failure anywhere (DB read, zip, encryption, disk) must reject the whole build.
  let failure: Error | undefined;
  // Aborted on any failure, so what a collection started for this build (a thread) stops with it.
  const stop = new AbortController();
  const failed = new Promise<never>((_, reject) => {
    encrypt.on('error', (e: Error) => { failure ??= e; stop.abort(e); reject(e); });
    stored.catch((e: Error) => { failure ??= e; stop.abort(e); reject(e); });
    const onAbort = () => { const e = input.signal!.reason as Error; failure ??= e; stop.abort(e); reject(e); };
    if (input.signal?.aborted) onAbort();
    else input.signal?.addEventListener('abort', onAbort, { once: true });
  });
  failed.catch(() => {});

  const manifest: ManifestEntry[] = [];
  const counter = { rows: 0 };
  let plaintextBytes = 0;
  let files = 0;

  const asBuffers = async function* (source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | string>) {
    for await (const chunk of source) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  };
  const addEntry = async (path: string, source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | string>, store = false) => {
    const { bytes, sha256 } = await Promise.race([zip.add(path, asBuffers(source), { date, store }), failed]);
    plaintextBytes += bytes;
    manifest.push({ path, bytes, sha256 });
  };

  try {
    await addEntry('README.txt', [readme(input.requestId, createdAt, 'passphrase' in input.recipient)]);
    const collections: Array<{ module: string; name: string; description: string; path: string; rows: number }> = [];
    for (const module of input.modules) {
      const provider = module.personalData;
      if (!provider) continue;
      for (const collection of provider.collections) {
        const before = counter.rows;
        const path = `data/${safeArchivePath(module.name)}/${safeArchivePath(collection.name)}.json`;
        await addEntry(path, collection.json ? jsonChunks(collection.json(input.userId, stop.signal), counter) : jsonArray(collection.rows(input.userId), counter));
        collections.push({ module: module.name, name: collection.name, description: collection.description, path, rows: counter.rows - before });
        await input.onProgress({ phase: 'collections', rows: counter.rows, plaintextBytes });
      }
    }
    for (const module of input.modules) {
      const list = module.personalData?.files;
      if (!list) continue;
      // One file opened (read and decrypted) ahead while the previous one is zipped: at most two in memory.
      let ahead: { path: string; opened: Promise<AsyncIterable<Buffer | Uint8Array | string>> } | undefined;
      const flush = async () => {
        if (!ahead) return;
        const { path, opened } = ahead;
        ahead = undefined;
        await addEntry(`files/${safeArchivePath(module.name)}/${safeArchivePath(path)}`, await opened, STORED_EXTENSIONS.test(path));
        files += 1;
        if (files % 20 === 0) await input.onProgress({ phase: 'files', files, plaintextBytes });
      };
      for await (const file of list(input.userId)) {
        const opened = file.open();
        opened.catch(() => {});
        const previous = flush();
        ahead = { path: file.path, opened };
        await previous;
      }
      await flush();
    }
    await input.onProgress({ phase: 'encrypting', rows: counter.rows, files, plaintextBytes });
    const manifestJson = JSON.stringify({
      schemaVersion: EXPORT_SCHEMA_VERSION,
      requestId: input.requestId,
      subject: input.userId,
      createdAt,
      collections,
      files: manifest,
    }, null, 2);
    await Promise.race([zip.add('manifest.json', [Buffer.from(manifestJson)], { date }), failed]);
    await Promise.race([zip.finish(), failed]);
    const artifactBytes = await Promise.race([stored, failed]);
    return { artifactBytes, plaintextBytes: plaintextBytes + Buffer.byteLength(manifestJson), rows: counter.rows, files, manifest };
  } catch (error) {
    // Fail the write itself, so storage removes its temporary file instead of publishing what an
    // aborted archive would otherwise end as: a truncated export under the final name.
    stop.abort(failure ?? error);
    encrypt.destroy(failure ?? (error as Error));
    await stored.catch(() => {});
    throw failure ?? error;
  }
}
