// Streaming OpenPGP encryption of one binary message (RFC 4880 / RFC 9580 v1 packets), with the
// bulk work done by Node's OpenSSL in a plain Node Transform: openpgp.js makes the session key
// and its key packets (SKESK for a passphrase, PKESK for a public key), and this file writes the
// Symmetrically Encrypted Integrity Protected Data packet (version 1, AES-CFB, SHA-1 MDC) around
// a literal data packet. Why not openpgp.encrypt on a stream: its web streams added a hop and a
// copy per chunk and ran in lock step with the zip (issue 15, bench/results/privacy.md). The
// output is what openpgp.encrypt writes for a v4 key or a passphrase: gpg 2.2+ and openpgp.js
// read it (test/privacy/export.test.ts decrypts with both).
import { createCipheriv, createHash, randomBytes, type Cipher, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import * as openpgp from 'openpgp';

/**
 * Partial body lengths of 2^20: one length octet per MiB (RFC 4880 §4.2.2.4 allows up to 2^30;
 * GnuPG and openpgp.js read any). Issue 15: with 64 KiB parts the archive went to the disk as a
 * one-byte write and a 64 KiB write per part, a write being a round trip through the thread pool.
 */
const PARTIAL_POWER = 20;
const PARTIAL_BYTES = 1 << PARTIAL_POWER;
const TAG_LITERAL = 0xc0 | 11; // new-format header, tag 11
const TAG_SEIPD = 0xc0 | 18; // new-format header, tag 18
const MDC_HEADER = Buffer.from([0xd3, 0x14]); // tag 19, length 20

const CIPHERS: Record<string, { name: string; keyBytes: number }> = {
  aes128: { name: 'aes-128-cfb', keyBytes: 16 },
  aes192: { name: 'aes-192-cfb', keyBytes: 24 },
  aes256: { name: 'aes-256-cfb', keyBytes: 32 },
};

/** A final (non-partial) body length. */
function finalLength(n: number): Buffer {
  if (n < 192) return Buffer.from([n]);
  if (n < 8384) return Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0xff;
  b.writeUInt32BE(n, 1);
  return b;
}

/**
 * One packet's body framed in partial lengths: bytes are held until a part's worth is there, then
 * sent as its length octet and views of the held chunks (no copy); the rest ends the packet.
 */
class PartialFramer {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private started = false;
  constructor(private readonly tag: number) {}

  push(chunk: Buffer, out: Buffer[]): void {
    if (chunk.length === 0) return;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    while (this.heldBytes >= PARTIAL_BYTES) {
      out.push(this.header(224 + PARTIAL_POWER));
      for (let need = PARTIAL_BYTES; need > 0;) {
        const first = this.held[0];
        if (first.length <= need) {
          out.push(first);
          this.held.shift();
          need -= first.length;
        } else {
          out.push(first.subarray(0, need));
          this.held[0] = first.subarray(need);
          need = 0;
        }
      }
      this.heldBytes -= PARTIAL_BYTES;
    }
  }

  end(out: Buffer[]): void {
    const rest = Buffer.concat(this.held, this.heldBytes);
    out.push(this.started ? finalLength(rest.length) : Buffer.concat([Buffer.from([this.tag]), finalLength(rest.length)]), rest);
    this.held = [];
    this.heldBytes = 0;
  }

  private header(lengthOctet: number): Buffer {
    const first = !this.started;
    this.started = true;
    return first ? Buffer.from([this.tag, lengthOctet]) : Buffer.from([lengthOctet]);
  }
}

export type OpenPgpRecipient = { passwords: string[] } | { encryptionKeys: openpgp.PublicKey };

/**
 * A Transform: the archive's bytes in, one encrypted OpenPGP message out (binary, not armored).
 * Always SEIPD v1, also for keys that advertise v2: GnuPG 2.2 reads only v1.
 */
export async function createEncryptStream(recipient: OpenPgpRecipient, date = new Date()): Promise<Transform> {
  const config = { aeadProtect: false };
  // A passphrase: AES-256 (openpgp's default); a key: the strongest AES its preferences allow.
  const sessionKey = 'encryptionKeys' in recipient
    ? await openpgp.generateSessionKey({ encryptionKeys: recipient.encryptionKeys, date, config })
    : { data: new Uint8Array(randomBytes(32)), algorithm: 'aes256' as const };
  const cipherSpec = CIPHERS[sessionKey.algorithm];
  if (!cipherSpec || sessionKey.data.length !== cipherSpec.keyBytes) throw new Error(`unsupported OpenPGP session key algorithm ${sessionKey.algorithm}`);
  const keyPackets = Buffer.from(await openpgp.encryptSessionKey({
    data: sessionKey.data, algorithm: sessionKey.algorithm, format: 'binary', date, config,
    ...('encryptionKeys' in recipient ? { encryptionKeys: recipient.encryptionKeys } : { passwords: recipient.passwords }),
  }) as Uint8Array);

  const cipher: Cipher = createCipheriv(cipherSpec.name, Buffer.from(sessionKey.data), Buffer.alloc(16));
  sessionKey.data.fill(0);
  const mdc: Hash = createHash('sha1');
  const literal = new PartialFramer(TAG_LITERAL);
  const seipd = new PartialFramer(TAG_SEIPD);

  /** Plaintext of the SEIPD body (after its version octet): hashed for the MDC, encrypted, framed. */
  const seal = (plain: Buffer[], out: Buffer[]) => {
    for (const p of plain) {
      if (p.length === 0) continue;
      mdc.update(p);
      seipd.push(cipher.update(p), out);
    }
  };

  const out: Buffer[] = [keyPackets];
  seipd.push(Buffer.from([1]), out); // SEIPD version 1
  const prefix = randomBytes(16);
  const literalHeader = Buffer.alloc(6); // format 'b', empty file name, date (seconds)
  literalHeader[0] = 0x62;
  literalHeader.writeUInt32BE(Math.floor(date.getTime() / 1000), 2);
  const inner: Buffer[] = [];
  literal.push(literalHeader, inner);
  seal([prefix, prefix.subarray(14, 16), ...inner], out);
  const opening = Buffer.concat(out);

  let first = true;
  return new Transform({
    writableHighWaterMark: 256 * 1024,
    readableHighWaterMark: 256 * 1024,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      const framed: Buffer[] = [];
      const sealed: Buffer[] = first ? [opening] : [];
      first = false;
      literal.push(chunk, framed);
      seal(framed, sealed);
      for (const s of sealed) this.push(s);
      callback();
    },
    flush(callback: TransformCallback) {
      const framed: Buffer[] = [];
      const sealed: Buffer[] = first ? [opening] : [];
      literal.end(framed);
      seal(framed, sealed);
      // The MDC packet: SHA-1 over everything sealed so far and its own two header octets.
      mdc.update(MDC_HEADER);
      seipd.push(cipher.update(Buffer.concat([MDC_HEADER, mdc.digest()])), sealed);
      seipd.push(cipher.final(), sealed);
      seipd.end(sealed);
      for (const s of sealed) if (s.length) this.push(s);
      callback();
    },
  });
}
