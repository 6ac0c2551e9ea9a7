// Sealing, checkpoints, verification and retention of the audit trail.
//
// Why a sealer instead of hashing at insert: a chain where each insert reads the previous hash
// must serialise every writer behind one lock for the length of its transaction, so one slow
// request (or a lock wait) stalls all staff reads. Here writers do a plain INSERT that takes its
// sequence number from a PostgreSQL identity sequence and never wait on each other; the sealer
// links rows in sequence order in batches, under an advisory lock that only sealers take. The
// cost is a short window (until the next seal, at most seconds) in which a fresh row is not yet
// chained; checkpoints are the real anchor anyway (a superuser can rewrite both tables; only
// the signature key, kept outside the database, is beyond their reach).
//
// Gaps: a rolled-back insert leaves a sequence number unused. The sealer waits until a later row
// is older than the grace period (inserts are single autocommit statements, so an earlier one
// still in flight after that is not plausible), then seals the number as "void".
import type { Signer } from '../../platform/crypto/signing.js';
import { GENESIS_HASH, checkpointMessage, keyFingerprint, linkHash, voidHash } from './audit-chain.js';
import type { AuditRepo } from './audit-repo.js';
import type { ChainLink, Checkpoint, Verification } from './audit-types.js';
import { createAuditVerifier, type VerifyOptions } from './audit-verify.js';

type Deps = {
  repo: AuditRepo;
  signer: Pick<Signer, 'sign' | 'verify' | 'publicKeyPem'>;
  sealBatchSize?: number;
  gapGraceSeconds?: number;
};

export type { Progress } from './audit-verify.js';

export function createAuditIntegrity({ repo, signer, sealBatchSize = 5_000, gapGraceSeconds = 10 }: Deps) {
  const fingerprint = keyFingerprint(signer.publicKeyPem);

  /** Where the chain continues from: the last seal, else a purge anchor checkpoint, else genesis. */
  async function head(q?: Parameters<AuditRepo['lastLink']>[0]): Promise<{ seq: number; chainHash: Buffer }> {
    const last = await repo.lastLink(q);
    if (last) return last;
    const anchor = (await repo.checkpoints()).at(-1);
    return anchor ?? { seq: 0, chainHash: GENESIS_HASH };
  }

  /** Links every committed event into the chain; returns how many sequence numbers were sealed. */
  async function seal(): Promise<number> {
    let total = 0;
    for (;;) {
      const { sealed, more } = await repo.withSealLock(async (trx) => {
        const start = await head(trx);
        const events = await repo.eventsToSeal(trx, start.seq, sealBatchSize, gapGraceSeconds);
        const links: ChainLink[] = [];
        let seq = start.seq;
        let previous: Buffer = start.chainHash;
        let blocked = false;
        for (const event of events) {
          if (event.seq > seq + 1) {
            if (!event.settled) { blocked = true; break; }
            for (let s = seq + 1; s < event.seq; s++) {
              const hash = voidHash(s);
              previous = linkHash(previous, hash);
              links.push({ seq: s, kind: 'void', eventHash: hash, chainHash: previous });
            }
          }
          const hash = event.hash;
          previous = linkHash(previous, hash);
          links.push({ seq: event.seq, kind: 'event', eventHash: hash, chainHash: previous });
          seq = event.seq;
        }
        for (let i = 0; i < links.length; i += 5_000) await repo.insertLinks(trx, links.slice(i, i + 5_000));
        return { sealed: links.length, more: !blocked && events.length === sealBatchSize };
      });
      total += sealed;
      if (!more) return total;
    }
  }

  const signedAtText = (date: Date) => date.toISOString().replace('Z', '000Z');

  /** Seals, then signs the latest sequence number and chain hash (nothing new: null). */
  async function checkpoint(): Promise<Checkpoint | null> {
    await seal();
    const last = await repo.lastLink();
    if (!last) return null;
    const latest = (await repo.checkpoints()).at(-1);
    if (latest && latest.seq >= last.seq) return null;
    const signedAt = signedAtText(new Date());
    const signature = signer.sign(checkpointMessage(last.seq, last.chainHash, signedAt));
    return repo.insertCheckpoint({ seq: last.seq, chainHash: last.chainHash, signedAt, keyFingerprint: fingerprint, signature });
  }

  const verifyTrail = createAuditVerifier({ repo, signer, fingerprint });

  /** Seals pending events first (unless told not to), then verifies (see audit-verify.ts). */
  async function verify(options: VerifyOptions & { seal?: boolean } = {}): Promise<Verification> {
    const started = Date.now();
    if (options.seal !== false) await seal();
    const result = await verifyTrail(options);
    return { ...result, durationMs: Date.now() - started };
  }

  return { seal, checkpoint, verify, head };
}

export type AuditIntegrity = ReturnType<typeof createAuditIntegrity>;
