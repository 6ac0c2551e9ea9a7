// AES-256-GCM with a random 96-bit nonce (NIST SP 800-38D §8.2.2) and associated data.
// The only place that calls the cipher directly; everything else goes through FieldCipher.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** As the trust posture states it. */
export const CIPHER_NAME = 'AES-256-GCM';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export class DecryptionError extends Error {
  constructor(message = 'ciphertext could not be authenticated') {
    super(message);
    this.name = 'DecryptionError';
  }
}

/** nonce || ciphertext || tag */
export function seal(key: Buffer, plaintext: Buffer, associatedData: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function open(key: Buffer, sealed: Buffer, associatedData: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new DecryptionError('ciphertext is truncated');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(associatedData);
  decipher.setAuthTag(tag);
  try {
    const head = decipher.update(body);
    const tail = decipher.final();
    // GCM's final() yields nothing: return update()'s buffer instead of copying it (a search
    // decrypts tens of MB of vectors; the copy cost as much as the decryption).
    return tail.length ? Buffer.concat([head, tail]) : head;
  } catch {
    throw new DecryptionError();
  }
}
