// Work on untrusted files off the event loop: one worker thread per job, with a V8 heap cap
// (resourceLimits) and a wall-clock timeout that terminates it, at most `concurrency` at once and
// `queueLength` waiting (the caller's busy error beyond). Shared by chat's text extraction and the
// trust centre's document marking; each maps the outcomes to its own errors. The export's
// decrypting thread is built the same way (quietWorker) but lives for the whole export.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface WorkerEntry { filename: string | URL; eval: boolean }

/**
 * Where a worker's code is: `<name>.js` beside the calling module when built (dist/…/*.js); from
 * source under tsx (tests, `npm run custos`) the `.ts` beside it, loaded by a two-line bootstrap
 * that first registers tsx in the new thread: a loader registered in the main thread (mocha's
 * `import: tsx`, or `--import` in a Worker's execArgv on Node 20) does not reach worker threads.
 */
export function workerEntry(callerUrl: string, name: string): WorkerEntry {
  if (!callerUrl.endsWith('.ts')) return { filename: new URL(`./${name}.js`, callerUrl), eval: false };
  const worker = new URL(`./${name}.ts`, callerUrl).href;
  // tsx's ES module build of its API (its CommonJS build cannot register from a worker): found with
  // createRequire, since mocha runs this file through tsx's CommonJS transform (no import.meta.resolve).
  const tsx = pathToFileURL(createRequire(callerUrl).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return { filename: `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(worker)}); });`, eval: true };
}

/** At most `concurrency` jobs at once and `queueLength` waiting; `busy(waiting)` is thrown beyond. */
export function createSlots(concurrency: number, queueLength: number, busy: (waiting: number) => Error) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async function inSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running < concurrency) running += 1;
    else if (waiting.length >= queueLength) throw busy(waiting.length);
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next(); // the slot passes straight to the next job
      else running -= 1;
    }
  };
}

export interface IsolatedRun<Outcome, T> {
  entry: WorkerEntry;
  /** The job's data; `bytes` is moved into the worker as a copy, so the caller keeps its original. */
  job: Record<string, unknown>;
  bytes: Buffer;
  maxHeapMb: number;
  maxYoungMb: number;
  timeoutMs: number;
  /** The worker's answer: the value, or an error thrown for the caller. */
  onMessage(outcome: Outcome): T;
  onTimeout(): Error;
  onError(error: Error & { code?: string }): Error;
  onExit(code: number): Error;
}

/**
 * A worker thread with its own capped V8 heap whose console output is dropped, never logged: a
 * parser's or decryptor's output may quote what it reads (a user's file, their messages).
 */
export function quietWorker(entry: WorkerEntry, limits: { maxHeapMb: number; maxYoungMb: number }, data?: { workerData: unknown; transferList: ArrayBuffer[] }): Worker {
  const worker = new Worker(entry.filename, {
    eval: entry.eval,
    ...data,
    resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb, maxYoungGenerationSizeMb: limits.maxYoungMb, stackSizeMb: 4 },
    stdout: true,
    stderr: true,
  });
  worker.stdout.resume();
  worker.stderr.resume();
  return worker;
}

/** Runs one job in its own worker thread; the worker is terminated once it answers, fails or times out. */
export function runIsolated<Outcome, T>(run: IsolatedRun<Outcome, T>): Promise<T> {
  const copy = new Uint8Array(run.bytes);
  const worker = quietWorker(run.entry, run, { workerData: { ...run.job, bytes: copy }, transferList: [copy.buffer] });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => T | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      try {
        const value = outcome();
        if (value instanceof Error) reject(value);
        else resolve(value);
      } catch (error) {
        reject(error);
      }
    };
    const timer = setTimeout(() => settle(run.onTimeout), run.timeoutMs);
    worker.once('message', (outcome: Outcome) => settle(() => run.onMessage(outcome)));
    worker.once('error', (error: Error & { code?: string }) => settle(() => run.onError(error)));
    worker.once('exit', (code: number) => settle(() => run.onExit(code)));
  });
}
