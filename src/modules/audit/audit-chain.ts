// The hash chain, as pure functions, so the sealer, the verifier and the benchmark share one
// definition of the canonical form.
//
// Canonical form (v1): a JSON array of every column in a fixed order, with explicit nulls and the
// time as UTC text with microseconds, so no field (time and reason included) can change without
// changing the hash. The sequence number is part of it, which binds an event to its position.
//   event_hash = SHA-256(canonical)            chain_hash = SHA-256(previous chain_hash || event_hash)
// A sequence number left unused by a rolled-back insert is sealed as "void" with a fixed hash.
import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit-types.js';

export const CANONICAL_VERSION = 'custos.audit.v1';
export const GENESIS_HASH = Buffer.alloc(32);

export function canonicalEvent(e: AuditEvent): string {
  return JSON.stringify([
    CANONICAL_VERSION, e.seq, e.occurredAt, e.actorKind, e.actorStaffId, e.actorEmail, e.actorRole,
    e.action, e.outcome, e.subjectUserId, e.resourceType, e.resourceIds, e.reason, e.justification,
    e.requestId, e.sourceIp, e.userAgent, e.detail,
  ]);
}

export const canonicalHash = (canonical: string): Buffer => createHash('sha256').update(canonical).digest();
export const eventHash = (e: AuditEvent): Buffer => canonicalHash(canonicalEvent(e));

/** The same canonical form with another sequence number (to tell a moved event from an edited one). */
export function withSeq(canonical: string, seq: number): string {
  return canonical.replace(/^\["custos\.audit\.v1",\d+,/, `["${CANONICAL_VERSION}",${seq},`);
}
export const voidHash = (seq: number): Buffer => createHash('sha256').update(`${CANONICAL_VERSION}:void:${seq}`).digest();
export const linkHash = (previous: Buffer, hash: Buffer): Buffer => createHash('sha256').update(previous).update(hash).digest();

/** The exact bytes a checkpoint signature covers. */
export function checkpointMessage(seq: number, chainHash: Buffer, signedAt: string): string {
  return `custos.audit.checkpoint.v1\nseq=${seq}\nchain=${chainHash.toString('hex')}\nsigned_at=${signedAt}\n`;
}

export const keyFingerprint = (publicKeyPem: string) => createHash('sha256').update(publicKeyPem.trim()).digest('hex').slice(0, 16);
