// Marks document copies off the event loop: one worker thread per copy, with a heap cap and a
// wall-clock timeout, at most `concurrency` at once and `queueLength` waiting (503 beyond). The
// same arrangement as chat's extraction pool (chat-extraction-pool.ts), for the same reason.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServiceUnavailableError } from '../../platform/http/problem.js';
import { type GrantMark, stampDocument } from './document-stamp.js';
import type { StampJob, StampOutcome } from './document-stamp-worker.js';

/** Built: the .js beside this module; under tsx: the .ts, after registering tsx in the thread (see chat-extraction-pool.ts). */
function workerEntry(): { filename: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { filename: new URL('./document-stamp-worker.js', import.meta.url), eval: false };
  const worker = new URL('./document-stamp-worker.ts', import.meta.url).href;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { filename: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`, eval: true };
}

const TEXT = new Set(['txt', 'md', 'csv']);

export interface StampPoolOptions { concurrency?: number; queueLength?: number; timeoutMs?: number; maxHeapMb?: number }

export function createStampPool({ concurrency = 2, queueLength = 32, timeoutMs = 60_000, maxHeapMb = 512 }: StampPoolOptions = {}) {
  const entry = workerEntry();
  let running = 0;
  const waiting: Array<() => void> = [];
  const acquire = async () => {
    if (running < concurrency) { running += 1; return; }
    if (waiting.length >= queueLength) throw new ServiceUnavailableError(`All ${concurrency} document markers are busy and ${waiting.length} downloads are waiting: try again in a few seconds.`, 5);
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => { const next = waiting.shift(); if (next) next(); else running -= 1; };

  function runWorker(extension: string, bytes: Buffer, mark: GrantMark): Promise<Buffer> {
    const copy = new Uint8Array(bytes);
    const job: StampJob = { extension, bytes: copy, mark };
    const worker = new Worker(entry.filename, {
      eval: entry.eval, workerData: job, transferList: [copy.buffer],
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 },
      stdout: true, stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        outcome();
      };
      const failed = () => new Error(`marking a .${extension} copy failed`);
      const timer = setTimeout(() => settle(() => reject(new Error(`marking a .${extension} copy took longer than ${timeoutMs} ms`))), timeoutMs);
      worker.once('message', (outcome: StampOutcome) => settle(() => (outcome.ok ? resolve(Buffer.from(outcome.bytes.buffer, outcome.bytes.byteOffset, outcome.bytes.byteLength)) : reject(failed()))));
      worker.once('error', () => settle(() => reject(failed())));
      worker.once('exit', () => settle(() => reject(failed())));
    });
  }

  return {
    /** The marked copy; throws (fail closed: nothing is served) when the file cannot be marked in time. */
    async stamp(extension: string, bytes: Buffer, mark: GrantMark): Promise<Buffer> {
      // Text gets one appended line: linear and cheap, not worth a thread's start-up (about 0.5 s).
      if (TEXT.has(extension)) return stampDocument(extension, bytes, mark);
      await acquire();
      try {
        return await runWorker(extension, bytes, mark);
      } finally {
        release();
      }
    },
  };
}

export type StampPool = ReturnType<typeof createStampPool>;
