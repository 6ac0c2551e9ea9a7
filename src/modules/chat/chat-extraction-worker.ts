// Entry point of one extraction worker thread: extracts one file's text and posts the outcome back.
// A fresh worker per file, so a file that exhausts the heap or is terminated for time takes
// nothing but itself down, and no state of one upload reaches the next.
import { parentPort, workerData } from 'node:worker_threads';
import { HttpProblem } from '../../platform/http/problem.js';
import { ExtractionRefusal, type ExtractionLimits } from './chat-extraction-limits.js';
import { extractText } from './chat-text-extraction.js';
import type { FileKind } from './chat-types.js';

export interface ExtractionJob {
  kind: FileKind;
  bytes: Uint8Array;
  limits: ExtractionLimits;
}

export type ExtractionOutcome =
  | { ok: true; text: string }
  | { ok: false; limit: ExtractionRefusal['limit']; detail: string }
  | { ok: false; limit?: undefined; detail: string };

async function run({ kind, bytes, limits }: ExtractionJob): Promise<ExtractionOutcome> {
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { ok: true, text: await extractText(kind, buffer, limits) };
  } catch (error) {
    if (error instanceof ExtractionRefusal) return { ok: false, limit: error.limit, detail: error.detail };
    if (error instanceof HttpProblem) return { ok: false, detail: error.detail };
    // A parser's own exception text may quote the file; only its absence of meaning crosses over.
    return { ok: false, detail: `The file could not be read as ${kind.toUpperCase()}. Nothing was stored; check the file opens in its usual application and upload it again.` };
  }
}

if (parentPort) {
  const port = parentPort;
  run(workerData as ExtractionJob).then((outcome) => port.postMessage(outcome));
}
