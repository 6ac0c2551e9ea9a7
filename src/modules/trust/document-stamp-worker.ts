// Entry point of one marking worker thread: marks one document copy and posts it back. A fresh
// worker per copy, so a large or hostile file costs its own thread's time and heap, never the
// API's event loop (a 300-page PDF takes about a second in pdf-lib).
import { parentPort, workerData } from 'node:worker_threads';
import { type GrantMark, stampDocument } from './document-stamp.js';

export interface StampJob { extension: string; bytes: Uint8Array; mark: GrantMark }
export type StampOutcome = { ok: true; bytes: Uint8Array } | { ok: false };

async function run({ extension, bytes, mark }: StampJob): Promise<StampOutcome> {
  try {
    const out = await stampDocument(extension, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), mark);
    return { ok: true, bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
  } catch {
    return { ok: false }; // a parser's message may quote the file: only the failure crosses over
  }
}

if (parentPort) {
  const port = parentPort;
  run(workerData as StampJob).then((outcome) => port.postMessage(outcome, outcome.ok ? [outcome.bytes.buffer as ArrayBuffer] : []));
}
