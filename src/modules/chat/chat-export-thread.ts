// Entry point of an export's decrypting thread (issue 15): takes sealed pages of messages
// (chat-sealed-pages.ts), opens each row's AES-256-GCM content and writes the page's JSON
// (chat-message-json.ts), and hands back one buffer per page, in the order the pages came. The
// export's main thread meanwhile reads the next page from PostgreSQL and feeds the zip and
// OpenPGP, so the two cores work at once. Data keys are asked of the main thread by id (its key
// store checks them) and live only in this thread's memory for the length of one export.
import { parentPort } from 'node:worker_threads';
import { DecryptionError } from '../../platform/crypto/aead.js';
import { columnOpener, DataKeyNotLoadedError } from '../../platform/crypto/field-cipher.js';
import type { DataKey } from '../../platform/crypto/key-store.js';
import { MessagePageJson } from './chat-message-json.js';
import { eachSealedRecord, messageContentAt, UUID_TEXT_BYTES } from './chat-sealed-pages.js';

export type ToExportThread =
  | { type: 'page'; seq: number; records: Uint8Array }
  | { type: 'key'; id: string; subjectId: string; key: Uint8Array };

export type FromExportThread =
  | { type: 'key'; id: string }
  | { type: 'page'; seq: number; rows: number; json: Uint8Array }
  | { type: 'failed'; seq: number; name: string; message: string };

const port = parentPort!;
/** Data keys of this export, as the main thread's key store answered them. */
const keys = new Map<string, { promise: Promise<DataKey>; resolve: (key: DataKey) => void }>();

function keyById(id: string): Promise<DataKey> {
  let entry = keys.get(id);
  if (!entry) {
    let resolve!: (key: DataKey) => void;
    const promise = new Promise<DataKey>((r) => { resolve = r; });
    entry = { promise, resolve };
    keys.set(id, entry);
    port.postMessage({ type: 'key', id } satisfies FromExportThread);
  }
  return entry.promise;
}

const { table, column } = messageContentAt('');
const opener = columnOpener(table, column);

/** The export's data keys as looked up so far: a page that names another one is started again once it is had (in practice once, on the first page). */
const loaded = new Map<string, DataKey>();

async function exportPage(records: Buffer): Promise<{ rows: number; json: Uint8Array }> {
  for (;;) {
    // Every row without a promise, string or object of its own; ids, role, model and created_at
    // are copied from the page as they are. Decrypted content is ciphertext less 45 bytes; the
    // JSON adds ~100 bytes of names per row.
    const json = new MessagePageJson(records.length + (records.length >> 3) + 4096);
    try {
      const rows = eachSealedRecord(records, (r) => {
        json.message(records, r, opener.open(loaded, records, r.id, r.id + UUID_TEXT_BYTES, r.contentFrom, r.contentTo));
      });
      return { rows, json: json.finish() };
    } catch (error) {
      if (!(error instanceof DataKeyNotLoadedError)) throw error;
      loaded.set(error.keyId, await keyById(error.keyId));
    }
  }
}

let previous: Promise<void> = Promise.resolve();
port.on('message', (message: ToExportThread) => {
  if (message.type === 'key') {
    keys.get(message.id)?.resolve({ id: message.id, subjectId: message.subjectId, key: Buffer.from(message.key) });
    return;
  }
  const { seq, records } = message;
  // One page after another: the answers go back in the order the pages came.
  previous = previous.then(() => exportPage(Buffer.from(records.buffer, records.byteOffset, records.byteLength)))
    .then(({ rows, json }) => port.postMessage({ type: 'page', seq, rows, json } satisfies FromExportThread, [json.buffer as ArrayBuffer]))
    .catch((error: Error) => {
      // Only our own fixed messages cross (a DecryptionError's says which check failed); never row data.
      const known = error instanceof DecryptionError || error instanceof RangeError;
      port.postMessage({ type: 'failed', seq, name: error.name, message: known ? error.message : '' } satisfies FromExportThread);
    });
});
