// Signed manifests: CBC has no integrity, so the ciphertext's SHA-256 (and the plaintext's) are
// recorded in a JSON document signed with the service's Ed25519 key (RFC 8032). A restorer checks
// the signature with the configured key — never a key found inside the file — then the hashes.
import { Readable } from 'node:stream';
import type { Signer } from '../../platform/crypto/signing.js';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { BackupManifest, SignedManifest } from './backups-types.js';

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export const manifestKeyOf = (fileKey: string) => fileKey.replace(/\.dump\.enc$/, '') + '.manifest.json';

const canonical = (manifest: BackupManifest) => JSON.stringify(manifest);

export function signManifest(signer: Pick<Signer, 'sign' | 'publicKeyPem'>, manifest: BackupManifest): SignedManifest {
  return { manifest, signature: signer.sign(canonical(manifest)), publicKeyPem: signer.publicKeyPem };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function writeManifest(storage: ArtifactStorage, signed: SignedManifest): Promise<string> {
  const key = manifestKeyOf(signed.manifest.file);
  await storage.put(key, Readable.from([Buffer.from(`${JSON.stringify(signed, null, 2)}\n`)]));
  return key;
}

/** Reads and checks the manifest of `fileKey`: present, well-formed, signed by our key, about that file. */
export async function readVerifiedManifest(storage: ArtifactStorage, signer: Pick<Signer, 'verify'>, fileKey: string): Promise<BackupManifest> {
  const key = manifestKeyOf(fileKey);
  if (!(await storage.stat(key))) throw new ManifestError(`manifest ${key} is missing`);
  let signed: SignedManifest;
  try {
    signed = JSON.parse((await readAll(await storage.get(key))).toString('utf8'));
  } catch {
    throw new ManifestError(`manifest ${key} is not valid JSON`);
  }
  if (!signed?.manifest || typeof signed.signature !== 'string') throw new ManifestError(`manifest ${key} is malformed`);
  let valid = false;
  try {
    valid = signer.verify(canonical(signed.manifest), signed.signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new ManifestError(`manifest ${key} has an invalid signature (altered, or signed by another key)`);
  if (signed.manifest.file !== fileKey) throw new ManifestError(`manifest ${key} describes ${signed.manifest.file}, not ${fileKey} (swapped file?)`);
  return signed.manifest;
}
