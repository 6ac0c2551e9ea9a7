// Ed25519 signatures (RFC 8032) for deletion receipts, audit checkpoints and backup manifests.
// The private key comes from configuration; the public key is published so anyone can verify.
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export function parseSigningKey(value: string): KeyObject {
  const pem = value.includes('BEGIN') ? value.replace(/\\n/g, '\n') : Buffer.from(value, 'base64').toString('utf8');
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('CUSTOS_SIGNING_KEY must be an Ed25519 private key');
  return key;
}

export function createSigner(privateKey: KeyObject) {
  const publicKey = createPublicKey(privateKey);
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign(message: Buffer | string): string {
      return sign(null, Buffer.from(message), privateKey).toString('base64');
    },
    verify(message: Buffer | string, signature: string): boolean {
      return verify(null, Buffer.from(message), publicKey, Buffer.from(signature, 'base64'));
    },
  };
}

export function verifyWithPublicKey(publicKeyPem: string, message: Buffer | string, signature: string): boolean {
  return verify(null, Buffer.from(message), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
}

export type Signer = ReturnType<typeof createSigner>;
