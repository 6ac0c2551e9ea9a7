// The export's messages, decrypted and serialised on a thread of their own (chat-export-thread.ts)
// while this thread reads the next sealed pages from PostgreSQL and feeds the zip and OpenPGP
// (issue 15: on one thread the per-row AES-GCM, the rows and the JSON were most of the export).
// Order and memory: pages go to the thread in seq order and come back in that order; at most
// `pagesInFlight` are with the thread at once, and the next is sent only when the export has
// taken a finished one, so a slow zip or disk holds the reads back. A failure in the thread (a
// row that does not authenticate, a destroyed key, the thread dying) fails the export.
import { DecryptionError } from '../../platform/crypto/aead.js';
import type { DataKey } from '../../platform/crypto/key-store.js';
import { quietWorker, workerEntry } from '../../platform/isolated-worker.js';
import type { FromExportThread, ToExportThread } from './chat-export-thread.js';
import type { SealedMessagePage } from './chat-sealed-pages.js';

export interface ExportDecryptionOptions {
  /** The key store's lookup: the thread asks for each data key it meets, by id. */
  keyById: (id: string) => Promise<DataKey>;
  /** Pages with the thread at once (2: one being decrypted, one waiting, while a third is read). */
  pagesInFlight?: number;
  /** The thread's own V8 heap; its garbage is collected there, apart from the export's. */
  maxHeapMb?: number;
  maxYoungMb?: number;
  /** Stops the thread at once (the export failed or was cancelled elsewhere). */
  signal?: AbortSignal;
}

/** The thread failed without a decryption error of its own to report (it died, or a bug). */
export class ExportThreadError extends Error {
  override name = 'ExportThreadError';
  constructor(readonly code: 'thread-failed' | 'thread-exited', options?: { cause?: unknown }) {
    super(code, options);
  }
}

const THREAD = workerEntry(import.meta.url, 'chat-export-thread');

/** A buffer the thread can own: moved when it is alone on its memory, else copied (pg's small values share a pool). */
function transferable(buffer: Buffer): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) return new Uint8Array(buffer.buffer);
  return new Uint8Array(buffer);
}

function startThread(options: ExportDecryptionOptions) {
  const worker = quietWorker(THREAD, { maxHeapMb: options.maxHeapMb ?? 32, maxYoungMb: options.maxYoungMb ?? 8 });
  const pending = new Map<number, { resolve: (page: { json: Buffer; rows: number }) => void; reject: (error: Error) => void }>();
  let failure: Error | undefined;
  let closed = false;
  let seq = 0;

  const fail = (error: Error) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(failure);
    pending.clear();
    void worker.terminate();
  };
  worker.on('message', (message: FromExportThread) => {
    if (message.type === 'key') {
      options.keyById(message.id).then((key) => {
        const copy = new Uint8Array(key.key); // the key store keeps its own
        worker.postMessage({ type: 'key', id: key.id, subjectId: key.subjectId, key: copy } satisfies ToExportThread, [copy.buffer]);
      }, fail);
      return;
    }
    if (message.type === 'page') {
      pending.get(message.seq)?.resolve({ json: Buffer.from(message.json.buffer, message.json.byteOffset, message.json.byteLength), rows: message.rows });
      pending.delete(message.seq);
    } else if (message.name === 'DecryptionError') {
      // A destroyed key fails on this side (keyById above); in the thread only a row can fail to authenticate.
      fail(new DecryptionError(message.message || undefined));
    } else {
      fail(new ExportThreadError('thread-failed', { cause: `${message.name}: ${message.message}` }));
    }
  });
  worker.on('error', (error) => fail(new ExportThreadError('thread-failed', { cause: error })));
  worker.on('exit', () => { if (!closed) fail(new ExportThreadError('thread-exited')); });

  return {
    decrypt(page: SealedMessagePage): Promise<{ json: Buffer; rows: number }> {
      if (failure) return Promise.reject(failure);
      seq += 1;
      const records = transferable(page.records);
      const answer = new Promise<{ json: Buffer; rows: number }>((resolve, reject) => pending.set(seq, { resolve, reject }));
      worker.postMessage({ type: 'page', seq, records } satisfies ToExportThread, [records.buffer as ArrayBuffer]);
      return answer;
    },
    async close(): Promise<void> {
      closed = true;
      fail(new ExportThreadError('thread-exited'));
    },
  };
}

/** Sealed pages in, each page's JSON (PersonalDataProvider `json`) out, in order. */
export async function* decryptedMessagePages(pages: AsyncIterable<SealedMessagePage>, options: ExportDecryptionOptions): AsyncGenerator<{ chunks: Buffer[]; rows: number }> {
  options.signal?.throwIfAborted();
  const thread = startThread(options);
  const onAbort = () => void thread.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const source = pages[Symbol.asyncIterator]();
  const inFlight: Array<Promise<{ json: Buffer; rows: number }>> = [];
  let read = false;
  try {
    for (;;) {
      while (!read && inFlight.length < (options.pagesInFlight ?? 2)) {
        const next = await source.next();
        if (next.done) { read = true; break; }
        const answer = thread.decrypt(next.value);
        answer.catch(() => {}); // awaited in turn below
        inFlight.push(answer);
      }
      const answer = inFlight.shift();
      if (!answer) return;
      // After an abort, its reason, not the thread's ending, and no page already decrypted either.
      const { json, rows } = await answer.catch((error: unknown) => { options.signal?.throwIfAborted(); throw error; });
      options.signal?.throwIfAborted();
      yield { chunks: [json], rows };
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await thread.close();
    await source.return?.();
  }
}
