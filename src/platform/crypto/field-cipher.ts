// Field encryption at rest. Ciphertext format, version 1 (stored as bytea):
//   0x01 | data-key id (16 bytes, UUID) | nonce (12) | AES-256-GCM ciphertext | tag (16)
// The header names the key, so rotation and crypto-shredding need no other lookup. Associated
// data binds the value to its table, column and row: a ciphertext copied to another row or
// column fails authentication instead of decrypting to someone else's data.
import { DecryptionError, open, seal } from './aead.js';
import type { DataKey, KeyStore } from './key-store.js';

const FORMAT_V1 = 0x01;
const HEADER_BYTES = 1 + 16;

export interface FieldLocation {
  table: string;
  column: string;
  rowId: string;
}

const associatedData = (at: FieldLocation) => Buffer.from(`custos:field:v1|${at.table}|${at.column}|${at.rowId}`);
const uuidToBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');
const bytesToUuid = (b: Buffer) => {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

function checkFormat(ciphertext: Buffer): void {
  if (ciphertext.length < HEADER_BYTES || ciphertext[0] !== FORMAT_V1) {
    throw new DecryptionError('unknown ciphertext format');
  }
}

/** The id of the data key a ciphertext was sealed with (its header names it). */
function fieldKeyId(ciphertext: Buffer): string {
  checkFormat(ciphertext);
  return bytesToUuid(ciphertext.subarray(1, HEADER_BYTES));
}

/** Opens a ciphertext with its data key (the one fieldKeyId names, already looked up). */
function openField(dataKey: DataKey, at: FieldLocation, ciphertext: Buffer): Buffer {
  // Another key than the one the header names fails authentication like any tampering.
  checkFormat(ciphertext);
  return open(dataKey.key, ciphertext.subarray(HEADER_BYTES), associatedData(at));
}

/** columnOpener met a value sealed with a data key its caller has not looked up yet (the caller fetches it and tries again). */
export class DataKeyNotLoadedError extends Error {
  override name = 'DataKeyNotLoadedError';
  constructor(readonly keyId: string) { super('data key not loaded'); }
}

/**
 * Opens many values of one column that lie, with their rows' ids (ASCII), inside one larger buffer
 * (an export's page of sealed messages, chat-sealed-pages.ts): the checks and associated data of
 * openField, without a string, a location or an associated-data buffer per value, and the data key
 * compared in place with the previous value's (issue 15: per row those were a good part of the
 * export thread's garbage).
 */
export function columnOpener(table: string, column: string) {
  const prefix = associatedData({ table, column, rowId: '' });
  let aad = Buffer.alloc(prefix.length + 36);
  prefix.copy(aad);
  let current: { key: DataKey; idBytes: Buffer } | undefined;
  return {
    /**
     * openField for source[from, to), the value of the row whose id is source[rowIdFrom, rowIdTo),
     * with the key from `keys` its header names; DataKeyNotLoadedError when `keys` does not have it.
     */
    open(keys: ReadonlyMap<string, DataKey>, source: Buffer, rowIdFrom: number, rowIdTo: number, from: number, to: number): Buffer {
      if (to - from < HEADER_BYTES || source[from] !== FORMAT_V1) throw new DecryptionError('unknown ciphertext format');
      if (!current || source.compare(current.idBytes, 0, 16, from + 1, from + HEADER_BYTES) !== 0) {
        const id = bytesToUuid(source.subarray(from + 1, from + HEADER_BYTES));
        const key = keys.get(id);
        if (!key) throw new DataKeyNotLoadedError(id);
        current = { key, idBytes: uuidToBytes(key.id) };
      }
      const length = prefix.length + rowIdTo - rowIdFrom;
      if (aad.length < length) { aad = Buffer.alloc(length); prefix.copy(aad); }
      source.copy(aad, prefix.length, rowIdFrom, rowIdTo);
      // open() hands the associated data to OpenSSL at once, so the buffer serves the next row too.
      return open(current.key.key, source.subarray(from + HEADER_BYTES, to), aad.length === length ? aad : aad.subarray(0, length));
    },
  };
}

/** `keyStore`: the key store, or anything that answers keyForSubject and keyById. */
export function createFieldCipher(keyStore: Pick<KeyStore, 'keyForSubject' | 'keyById'>) {
  async function encryptBytes(subjectId: string, at: FieldLocation, plaintext: Buffer): Promise<Buffer> {
    const dataKey = await keyStore.keyForSubject(subjectId);
    return Buffer.concat([Buffer.from([FORMAT_V1]), uuidToBytes(dataKey.id), seal(dataKey.key, plaintext, associatedData(at))]);
  }

  async function decryptBytes(at: FieldLocation, ciphertext: Buffer): Promise<Buffer> {
    return openField(await keyStore.keyById(fieldKeyId(ciphertext)), at, ciphertext);
  }

  return {
    encryptBytes,
    decryptBytes,
    async encryptText(subjectId: string, at: FieldLocation, plaintext: string): Promise<Buffer> {
      return encryptBytes(subjectId, at, Buffer.from(plaintext, 'utf8'));
    },
    async decryptText(at: FieldLocation, ciphertext: Buffer): Promise<string> {
      return (await decryptBytes(at, ciphertext)).toString('utf8');
    },
    async encryptJson(subjectId: string, at: FieldLocation, value: unknown): Promise<Buffer> {
      return encryptBytes(subjectId, at, Buffer.from(JSON.stringify(value), 'utf8'));
    },
    async decryptJson<T>(at: FieldLocation, ciphertext: Buffer): Promise<T> {
      return JSON.parse((await decryptBytes(at, ciphertext)).toString('utf8')) as T;
    },
  };
}

export type FieldCipher = ReturnType<typeof createFieldCipher>;
