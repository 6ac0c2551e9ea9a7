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
import { GENESIS_HASH, canonicalHash, checkpointMessage, keyFingerprint, linkHash, voidHash, withSeq } from './audit-chain.js';
import type { AuditRepo, CanonicalRow } from './audit-repo.js';
import type { BreakKind, ChainLink, Checkpoint, Verification } from './audit-types.js';

type Deps = {
  repo: AuditRepo;
  signer: Pick<Signer, 'sign' | 'verify' | 'publicKeyPem'>;
  sealBatchSize?: number;
  gapGraceSeconds?: number;
};

export type Progress = (done: number, total: number) => void;

const VERIFY_BATCH = 10_000;
const VERIFY_READ_AHEAD = 3;

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
          const hash = canonicalHash(event.canonical);
          previous = linkHash(previous, hash);
          links.push({ seq: event.seq, kind: 'event', eventHash: hash, chainHash: previous });
          seq = event.seq;
        }
        for (let i = 0; i < links.length; i += 2_000) await repo.insertLinks(trx, links.slice(i, i + 2_000));
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

  /** For a changed row: was it sealed at another position (moved) rather than edited? */
  function originalPosition(event: CanonicalRow, batch: ChainLink[]): number | null {
    for (const link of batch) {
      if (link.kind !== 'event' || link.seq === event.seq) continue;
      if (canonicalHash(withSeq(event.canonical, link.seq)).equals(link.eventHash)) return link.seq;
    }
    return null;
  }

  async function verify(options: { seal?: boolean; onProgress?: Progress } = {}): Promise<Verification> {
    const started = Date.now();
    if (options.seal !== false) await seal();
    const checkpoints = await repo.checkpoints();
    const bounds = await repo.chainBounds();
    let eventsChecked = 0;
    let anchor: Verification['anchor'] = null;
    let seq = 0;
    let previous: Buffer = GENESIS_HASH;

    const finish = (failure: Verification['break']): Promise<Verification> => repo.countEventsAfter(bounds.last ?? seq).then((unsealed) => ({
      intact: !failure,
      message: failure
        ? `broken at event ${failure.seq} (${failure.kind}): ${failure.detail}; intact up to event ${seq}`
        : `intact up to event ${seq}`,
      intactUpTo: seq,
      eventsChecked,
      checkpointsChecked: checkpoints.length,
      unsealed: failure ? 0 : unsealed,
      anchor,
      break: failure,
      durationMs: Date.now() - started,
    }));
    const broken = (at: number, kind: BreakKind, detail: string) => finish({ seq: at, kind, detail });

    for (const c of checkpoints) {
      if (c.keyFingerprint !== fingerprint || !signer.verify(checkpointMessage(c.seq, c.chainHash, c.signedAt), c.signature)) {
        return broken(c.seq, 'signature', `the signature of checkpoint #${c.id} (event ${c.seq}) does not verify with the configured signing key`);
      }
    }
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));

    // After a retention purge the chain starts at a signed checkpoint that a purge event names.
    const firstSealed = bounds.first ?? (checkpoints.at(-1)?.seq ?? 0) + 1;
    if (firstSealed > 1) {
      const start = bySeq.get(firstSealed - 1);
      if (!start || !(await repo.hasPurgeEvent(start.seq))) {
        return broken(1, 'missing', `events 1–${firstSealed - 1} are gone without a signed purge anchor`);
      }
      anchor = { seq: start.seq, checkpointId: start.id };
      seq = start.seq;
      previous = start.chainHash;
    }

    options.onProgress?.(0, bounds.count);
    // Batches are fixed sequence ranges, so several can be fetched at once on separate
    // connections (PostgreSQL builds the canonical forms on other cores) while this one is hashed.
    const fetchBatch = (from: number) => {
      const to = from + VERIFY_BATCH - 1;
      const batch = Promise.all([repo.chainRange(from, to), repo.canonicalInRange(from, to)]);
      batch.catch(() => {});
      return batch;
    };
    const last = bounds.last ?? 0;
    const ahead: Array<ReturnType<typeof fetchBatch>> = [];
    let nextFrom = seq + 1;
    for (;;) {
      while (ahead.length < VERIFY_READ_AHEAD && nextFrom <= last) {
        ahead.push(fetchBatch(nextFrom));
        nextFrom += VERIFY_BATCH;
      }
      if (!ahead.length) break;
      const [batch, rows] = await ahead.shift()!;
      if (!batch.length) continue; // a whole range of seals is gone: the next link reports it
      const events = new Map(rows.map((e) => [e.seq, e]));
      for (const link of batch) {
        if (link.seq !== seq + 1) {
          const orphan = events.get(seq + 1);
          return orphan
            ? broken(seq + 1, 'changed', `the seal of event ${seq + 1} was removed`)
            : broken(seq + 1, 'missing', link.seq - seq > 2
              ? `events ${seq + 1}–${link.seq - 1} were deleted together with their seals`
              : `event ${seq + 1} was deleted together with its seal`);
        }
        const event = events.get(link.seq);
        let hash: Buffer;
        if (link.kind === 'void') {
          if (event) return broken(link.seq, 'inserted', `event ${link.seq} appeared at a sequence number sealed as unused`);
          hash = voidHash(link.seq);
        } else {
          if (!event) return broken(link.seq, 'missing', `event ${link.seq} was deleted`);
          hash = canonicalHash(event.canonical);
          if (!hash.equals(link.eventHash)) {
            const from = originalPosition(event, batch);
            return from === null
              ? broken(link.seq, 'changed', `event ${link.seq} differs from what was sealed`)
              : broken(link.seq, 'reordered', `event ${link.seq} holds the event sealed at position ${from}`);
          }
        }
        const chained = linkHash(previous, hash);
        if (!chained.equals(link.chainHash)) return broken(link.seq, 'changed', `the seal of event ${link.seq} was altered`);
        const signed = bySeq.get(link.seq);
        if (signed && !signed.chainHash.equals(chained)) {
          return broken(link.seq, 'changed', `signed checkpoint #${signed.id} disagrees: events up to ${link.seq} were rewritten together with their seals`);
        }
        seq = link.seq;
        previous = chained;
        eventsChecked += event ? 1 : 0;
      }
      options.onProgress?.(eventsChecked, bounds.count);
    }
    const beyond = checkpoints.at(-1);
    if (beyond && beyond.seq > seq) {
      return broken(seq + 1, 'missing', `checkpoint #${beyond.id} vouches for events up to ${beyond.seq}, but the trail ends at ${seq}`);
    }
    return finish(null);
  }

  return { seal, checkpoint, verify, head };
}

export type AuditIntegrity = ReturnType<typeof createAuditIntegrity>;
