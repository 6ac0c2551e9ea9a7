// The relay API key format and its hashing, pure functions (no I/O).
//   cus_<env>_<prefix 8><secret 43><crc 6>
// prefix and secret are base62 drawn from node:crypto without modulo bias: 51 characters are
// ~303 random bits, of which the 43 secret characters alone are 256 bits (the 8-character prefix
// is shown in listings and used for the lookup, so it is not counted as secret). The last 6
// characters are the CRC32 of everything before them, base62: a mistyped or truncated key is
// refused without touching the database, and secret scanners (GitHub's, trufflehog) can tell a
// real Custos key from random text, as with GitHub's own token format.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { constantTimeEqual } from '../../platform/crypto/hashing.js';

export type KeyEnvironment = 'live' | 'test';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PREFIX_CHARS = 8;
const SECRET_CHARS = 43;
const CHECKSUM_CHARS = 6;
const BODY_CHARS = PREFIX_CHARS + SECRET_CHARS;
export const API_KEY_PATTERN = /^cus_(live|test)_([0-9A-Za-z]{8})([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/;

/** n base62 characters; bytes ≥ 248 are dropped so each character is uniform (no modulo bias). */
function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const byte of randomBytes(n * 2)) {
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

function base62Fixed(value: number, width: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

const checksum = (head: string) => base62Fixed(crc32(head) >>> 0, CHECKSUM_CHARS);

export interface GeneratedKey {
  key: string;
  prefix: string;
  salt: Buffer;
  hash: Buffer;
}

/** The displayable, non-secret part: `cus_live_AbCdEfGh`. */
export const displayPrefix = (environment: KeyEnvironment, prefix: string) => `cus_${environment}_${prefix}`;

export function hashApiKey(pepper: Buffer, salt: Buffer, key: string): Buffer {
  return createHash('sha256').update(salt).update(pepper).update(key, 'utf8').digest();
}

export function generateApiKey(environment: KeyEnvironment, pepper: Buffer): GeneratedKey {
  const body = randomBase62(BODY_CHARS);
  const head = `cus_${environment}_${body}`;
  const key = head + checksum(head);
  const salt = randomBytes(16);
  return { key, prefix: body.slice(0, PREFIX_CHARS), salt, hash: hashApiKey(pepper, salt, key) };
}

export interface ParsedKey {
  environment: KeyEnvironment;
  prefix: string;
}

/** null for anything that is not a well-formed key with a correct checksum. No database involved. */
export function parseApiKey(token: string): ParsedKey | null {
  if (token.length !== 4 + 5 + BODY_CHARS + CHECKSUM_CHARS) return null;
  const match = API_KEY_PATTERN.exec(token);
  if (!match) return null;
  const head = token.slice(0, -CHECKSUM_CHARS);
  if (checksum(head) !== match[4]) return null;
  return { environment: match[1] as KeyEnvironment, prefix: match[2] };
}

export const verifyApiKey = (pepper: Buffer, salt: Buffer, storedHash: Buffer, key: string) =>
  constantTimeEqual(hashApiKey(pepper, salt, key), storedHash);
