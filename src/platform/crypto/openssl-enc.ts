// The OpenSSL `enc` file format, with node:crypto only, so that any backup decrypts with plain
// `openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -md sha256` in a break-glass restore:
//   "Salted__" || salt (8 bytes) || AES-256-CBC(PKCS#7) ciphertext,
//   key || iv = PBKDF2-HMAC-SHA256(passphrase, salt, 100000, 32 + 16).
// CBC has no integrity of its own: callers compare the SHA-256 digests these streams compute
// against a signed manifest before trusting the plaintext.
import { createCipheriv, createDecipheriv, createHash, pbkdf2, randomBytes, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const OPENSSL_MAGIC = Buffer.from('Salted__', 'latin1');
export const OPENSSL_ITERATIONS = 100_000;
const SALT_BYTES = 8;
const HEADER_BYTES = OPENSSL_MAGIC.length + SALT_BYTES;

/** The one message for every failure that a wrong passphrase can cause (OpenSSL cannot tell them apart either). */
export class DecryptionError extends Error {
  constructor(message = 'wrong passphrase or not an OpenSSL-encrypted file') {
    super(message);
    this.name = 'DecryptionError';
  }
}

export interface StreamDigests {
  /** SHA-256 (hex) and byte count of what entered/left the stream, available after 'finish'. */
  plaintext: { sha256: string; size: number };
  ciphertext: { sha256: string; size: number };
}

async function deriveKeyAndIv(passphrase: string, salt: Buffer, iterations: number) {
  if (!passphrase) throw new Error('an empty passphrase is not allowed');
  const material = await pbkdf2Async(Buffer.from(passphrase, 'utf8'), salt, iterations, 48, 'sha256');
  return { key: material.subarray(0, 32), iv: material.subarray(32, 48) };
}

class Digests {
  private readonly plainHash: Hash = createHash('sha256');
  private readonly cipherHash: Hash = createHash('sha256');
  private plainSize = 0;
  private cipherSize = 0;
  private done?: StreamDigests;
  plain(chunk: Buffer) { this.plainHash.update(chunk); this.plainSize += chunk.length; }
  cipher(chunk: Buffer) { this.cipherHash.update(chunk); this.cipherSize += chunk.length; }
  finish(): StreamDigests {
    this.done ??= {
      plaintext: { sha256: this.plainHash.digest('hex'), size: this.plainSize },
      ciphertext: { sha256: this.cipherHash.digest('hex'), size: this.cipherSize },
    };
    return this.done;
  }
}

export interface OpenSslStream extends Transform {
  /** Throws until the stream has flushed. */
  digests(): StreamDigests;
}

function withDigests(stream: Transform, digests: Digests): OpenSslStream {
  let finished = false;
  stream.once('end', () => { finished = true; });
  return Object.assign(stream, {
    digests() {
      if (!finished) throw new Error('digests are known only after the stream has ended');
      return digests.finish();
    },
  });
}

/** Plaintext in, OpenSSL `enc` bytes out. The salt is random per file. */
export async function createOpenSslEncryptor(passphrase: string, iterations = OPENSSL_ITERATIONS): Promise<OpenSslStream> {
  const salt = randomBytes(SALT_BYTES);
  const { key, iv } = await deriveKeyAndIv(passphrase, salt, iterations);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const digests = new Digests();
  let headerSent = false;
  const emit = (stream: Transform, bytes: Buffer) => {
    if (bytes.length === 0) return;
    digests.cipher(bytes);
    stream.push(bytes);
  };
  const stream = new Transform({
    // Large chunks keep the per-call overhead of three native passes (AES, two SHA-256) small.
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!headerSent) {
        headerSent = true;
        emit(this, Buffer.concat([OPENSSL_MAGIC, salt]));
      }
      digests.plain(chunk);
      emit(this, cipher.update(chunk));
      callback();
    },
    flush(callback: TransformCallback) {
      if (!headerSent) emit(this, Buffer.concat([OPENSSL_MAGIC, salt]));
      emit(this, cipher.final());
      callback();
    },
  });
  return withDigests(stream, digests);
}

/** OpenSSL `enc` bytes in, plaintext out; a bad header, passphrase or padding is a DecryptionError. */
export function createOpenSslDecryptor(passphrase: string, iterations = OPENSSL_ITERATIONS): OpenSslStream {
  const digests = new Digests();
  let header: Buffer = Buffer.alloc(0);
  let decipher: ReturnType<typeof createDecipheriv> | undefined;
  const out = (stream: Transform, bytes: Buffer) => {
    if (bytes.length === 0) return;
    digests.plain(bytes);
    stream.push(bytes);
  };
  const stream = new Transform({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      digests.cipher(chunk);
      if (decipher) {
        out(this, decipher.update(chunk));
        return callback();
      }
      header = Buffer.concat([header, chunk]);
      if (header.length < HEADER_BYTES) return callback();
      if (!header.subarray(0, OPENSSL_MAGIC.length).equals(OPENSSL_MAGIC)) return callback(new DecryptionError());
      const salt = header.subarray(OPENSSL_MAGIC.length, HEADER_BYTES);
      const rest = header.subarray(HEADER_BYTES);
      deriveKeyAndIv(passphrase, salt, iterations).then(({ key, iv }) => {
        decipher = createDecipheriv('aes-256-cbc', key, iv);
        out(this, decipher.update(rest));
        callback();
      }, callback);
    },
    flush(callback: TransformCallback) {
      if (!decipher) return callback(new DecryptionError());
      try {
        // A wrong key almost always leaves invalid PKCS#7 padding, as does a truncated file.
        out(this, decipher.final());
      } catch {
        return callback(new DecryptionError());
      }
      callback();
    },
  });
  return withDigests(stream, digests);
}
