// Runs every text extraction off the API's event loop, in a bounded pool of worker threads. One
// upload once held the loop for 27 s (a 10,000-page PDF sharing one content stream: pdf.js's work
// grows with the square of the pages) and froze /healthz, the job workers and the scheduler with
// it; one zip bomb held 2.2 GiB. Each file now gets its own worker with a V8 heap cap
// (resourceLimits), a wall-clock timeout that terminates it, and the page/zip limits inside; at
// most `concurrency` workers run at once, `queueLength` uploads wait, and any beyond get a 503.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
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

/**
 * Where the worker's code is. Built (dist/…/*.js): the .js file beside this module. From source
 * under tsx (tests, `npm run custos`): the .ts beside it, loaded by a two-line bootstrap that first
 * registers tsx in the new thread; a loader registered in the main thread (mocha's `import: tsx`,
 * or `--import` in a Worker's execArgv on Node 20) does not reach worker threads.
 */
function workerEntry(): { filename: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) return { filename: new URL('./chat-extraction-worker.js', import.meta.url), eval: false };
  const worker = new URL('./chat-extraction-worker.ts', import.meta.url).href;
  // tsx's ES module build of its API (its CommonJS build cannot register from a worker): found with
  // createRequire, since mocha runs this file through tsx's CommonJS transform (no import.meta.resolve).
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return {
    filename: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`,
    eval: true,
  };
}

export function createExtractionPool({ limits, concurrency, queueLength, logger }: ExtractionPoolOptions) {
  const entry = workerEntry();
  let running = 0;
  const waiting: Array<() => void> = [];

  async function acquire(): Promise<void> {
    if (running < concurrency) { running += 1; return; }
    if (waiting.length >= queueLength) {
      throw new ServiceUnavailableError(`All ${concurrency} text extractors are busy and ${waiting.length} uploads are waiting (CUSTOS_EXTRACTION_CONCURRENCY, CUSTOS_EXTRACTION_QUEUE_LENGTH). Nothing was stored; upload the file again in a few seconds.`, 5);
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }

  function release() {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next upload
    else running -= 1;
  }

  function runWorker(kind: FileKind, bytes: Buffer): Promise<string> {
    // The worker gets its own copy, moved rather than cloned; the caller still stores the original.
    const copy = new Uint8Array(bytes);
    const job: ExtractionJob = { kind, bytes: copy, limits };
    const worker = new Worker(entry.filename, {
      eval: entry.eval,
      workerData: job,
      transferList: [copy.buffer],
      resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb, maxYoungGenerationSizeMb: Math.min(32, Math.ceil(limits.maxHeapMb / 8)), stackSizeMb: 4 },
      stdout: true, // a parser's console output (it may quote the file) is dropped, not logged
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        outcome();
      };
      const timer = setTimeout(() => settle(() => reject(refused('time', `its text took longer than the ${limits.timeoutMs} ms allowed (CUSTOS_EXTRACTION_TIMEOUT_MS) to extract`))), limits.timeoutMs);
      worker.once('message', (outcome: ExtractionOutcome) => settle(() => {
        if (outcome.ok) resolve(outcome.text);
        else if (outcome.limit) reject(refused(outcome.limit, outcome.detail));
        else reject(new UnprocessableError(outcome.detail));
      }));
      worker.once('error', (error: Error & { code?: string }) => settle(() => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          reject(refused('memory', `extracting its text needed more than the ${limits.maxHeapMb} MiB of memory allowed (CUSTOS_EXTRACTION_MAX_HEAP_MB)`));
          return;
        }
        // A parser throwing outside its promise chain (JSZip does on a size mismatch): the file's doing.
        logger.warn({ err: error, kind }, 'text extraction worker failed');
        reject(new UnprocessableError(`The file could not be read as ${kind.toUpperCase()}. Nothing was stored; check the file opens in its usual application and upload it again.`));
      }));
      worker.once('exit', (code) => settle(() => reject(new Error(`text extraction worker exited with code ${code} before answering`))));
    });
  }

  return {
    /** The file's text, or a 422 naming the limit it hit, or a 503 when the pool and queue are full. */
    async extract(kind: FileKind, bytes: Buffer): Promise<string> {
      await acquire();
      try {
        return await runWorker(kind, bytes);
      } finally {
        release();
      }
    },
  };
}

export type ExtractionPool = ReturnType<typeof createExtractionPool>;
