// Marks document copies off the event loop: one worker thread per copy, with a heap cap and a
// wall-clock timeout, at most `concurrency` at once and `queueLength` waiting (503 beyond): the
// platform's isolated workers, as chat's text extraction uses them.
import { createSlots, runIsolated, workerEntry } from '../../platform/isolated-worker.js';
import { ServiceUnavailableError } from '../../platform/http/problem.js';
import { type GrantMark, stampDocument } from './document-stamp.js';
import type { StampJob, StampOutcome } from './document-stamp-worker.js';

const TEXT = new Set(['txt', 'md', 'csv']);

export interface StampPoolOptions { concurrency?: number; queueLength?: number; timeoutMs?: number; maxHeapMb?: number }

export function createStampPool({ concurrency = 2, queueLength = 32, timeoutMs = 60_000, maxHeapMb = 512 }: StampPoolOptions = {}) {
  const entry = workerEntry(import.meta.url, 'document-stamp-worker');
  const inSlot = createSlots(concurrency, queueLength, (waiting) => new ServiceUnavailableError(`All ${concurrency} document markers are busy and ${waiting} downloads are waiting: try again in a few seconds.`, 5));

  const runWorker = (extension: string, bytes: Buffer, mark: GrantMark) => {
    const failed = () => new Error(`marking a .${extension} copy failed`);
    return runIsolated<StampOutcome, Buffer>({
      entry,
      job: { extension, mark } satisfies Omit<StampJob, 'bytes'>,
      bytes,
      maxHeapMb,
      maxYoungMb: 32,
      timeoutMs,
      onMessage: (outcome) => {
        if (!outcome.ok) throw failed();
        return Buffer.from(outcome.bytes.buffer, outcome.bytes.byteOffset, outcome.bytes.byteLength);
      },
      onTimeout: () => new Error(`marking a .${extension} copy took longer than ${timeoutMs} ms`),
      onError: failed,
      onExit: failed,
    });
  };

  return {
    /** The marked copy; throws (fail closed: nothing is served) when the file cannot be marked in time. */
    async stamp(extension: string, bytes: Buffer, mark: GrantMark): Promise<Buffer> {
      // Text gets one appended line: linear and cheap, not worth a thread's start-up (about 0.5 s).
      if (TEXT.has(extension)) return stampDocument(extension, bytes, mark);
      return inSlot(() => runWorker(extension, bytes, mark));
    },
  };
}

export type StampPool = ReturnType<typeof createStampPool>;
