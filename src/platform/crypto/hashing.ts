import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const sha256 = (value: Buffer | string) => createHash('sha256').update(value).digest();

/** Keyed hash for high-entropy secrets (recovery codes, API keys): SHA-256 HMAC under the pepper. */
export const pepperedHash = (pepper: Buffer, ...parts: Array<Buffer | string>) => {
  const mac = createHmac('sha256', pepper);
  for (const part of parts) mac.update(part);
  return mac.digest();
};

export const constantTimeEqual = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** URL-safe random token with a readable prefix, e.g. cst_… for session tokens. */
export const randomToken = (prefix: string, bytes = 32) => `${prefix}${randomBytes(bytes).toString('base64url')}`;
