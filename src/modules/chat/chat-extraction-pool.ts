// Runs every text extraction off the API's event loop, in a bounded pool of worker threads. One
// upload once held the loop for 27 s (a 10,000-page PDF sharing one content stream: pdf.js's work
// grows with the square of the pages) and froze /healthz, the job workers and the scheduler with
// it; one zip bomb held 2.2 GiB. Each file now gets its own worker with a V8 heap cap
// (resourceLimits), a wall-clock timeout that terminates it, and the page/zip limits inside; at
// most `concurrency` workers run at once, `queueLength` uploads wait, and any beyond get a 503.
import { createSlots, runIsolated, workerEntry } from '../../platform/isolated-worker.js';
import { ServiceUnavailableError, UnprocessableError } from '../../platform/http/problem.js';
import type { Logger } from '../../platform/logger.js';
import type { ExtractionLimit, ExtractionLimits } from './chat-extraction-limits.js';
import type { ExtractionJob, ExtractionOutcome } from './chat-extraction-worker.js';
import type { FileKind } from './chat-types.js';

export interface ExtractionPoolOptions {
  limits: ExtractionLimits;
  concurrency: number;
  queueLength: number;
  logger: Pick<Logger, 'warn'>;
}

const ADVICE: Record<ExtractionLimit, string> = {
  pages: 'split the document and upload the parts',
  time: 'split or simplify the document (fewer pages or sheets) and upload it again',
  memory: 'split or simplify the document (fewer pages or sheets) and upload it again',
  inflatedSize: 'a genuine document does not need that; save it again from its usual application',
  entries: 'a genuine document does not need that; save it again from its usual application',
  nesting: 'a genuine document does not need that; save it again from its usual application',
};

const refused = (limit: ExtractionLimit, what: string) =>
  new UnprocessableError(`The file was refused by an extraction limit (${limit}): ${what}. Nothing was stored; ${ADVICE[limit]}.`, { limit });

export function createExtractionPool({ limits, concurrency, queueLength, logger }: ExtractionPoolOptions) {
  const entry = workerEntry(import.meta.url, 'chat-extraction-worker');
  const inSlot = createSlots(concurrency, queueLength, (waiting) => new ServiceUnavailableError(`All ${concurrency} text extractors are busy and ${waiting} uploads are waiting (CUSTOS_EXTRACTION_CONCURRENCY, CUSTOS_EXTRACTION_QUEUE_LENGTH). Nothing was stored; upload the file again in a few seconds.`, 5));

  const runWorker = (kind: FileKind, bytes: Buffer) => runIsolated<ExtractionOutcome, string>({
    entry,
    job: { kind, limits } satisfies Omit<ExtractionJob, 'bytes'>,
    bytes,
    maxHeapMb: limits.maxHeapMb,
    maxYoungMb: Math.min(32, Math.ceil(limits.maxHeapMb / 8)),
    timeoutMs: limits.timeoutMs,
    onMessage: (outcome) => {
      if (outcome.ok) return outcome.text;
      throw outcome.limit ? refused(outcome.limit, outcome.detail) : new UnprocessableError(outcome.detail);
    },
    onTimeout: () => refused('time', `its text took longer than the ${limits.timeoutMs} ms allowed (CUSTOS_EXTRACTION_TIMEOUT_MS) to extract`),
    onError: (error) => {
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') return refused('memory', `extracting its text needed more than the ${limits.maxHeapMb} MiB of memory allowed (CUSTOS_EXTRACTION_MAX_HEAP_MB)`);
      // A parser throwing outside its promise chain (JSZip does on a size mismatch): the file's doing.
      logger.warn({ err: error, kind }, 'text extraction worker failed');
      return new UnprocessableError(`The file could not be read as ${kind.toUpperCase()}. Nothing was stored; check the file opens in its usual application and upload it again.`);
    },
    onExit: (code) => new Error(`text extraction worker exited with code ${code} before answering`),
  });

  return {
    /** The file's text, or a 422 naming the limit it hit, or a 503 when the pool and queue are full. */
    extract: (kind: FileKind, bytes: Buffer): Promise<string> => inSlot(() => runWorker(kind, bytes)),
  };
}

export type ExtractionPool = ReturnType<typeof createExtractionPool>;
