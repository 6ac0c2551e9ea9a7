// Verification of the audit trail: recompute every event hash, the chain and the checkpoint
// signatures, and name the first event where it breaks (changed, missing, reordered, inserted,
// signature).
//
// Two passes over fixed sequence ranges, fetched several at a time on separate connections:
// - Fast pass. PostgreSQL recomputes each event's SHA-256 from the stored row (the canonical form
//   of audit-repo.ts, byte-identical to audit-chain.ts, tested) and compares it with the sealed
//   event hash; it returns only the packed seals (seq, kind, event hash, chain hash: 73 bytes per
//   event) and the sequence numbers that did not match. The verifier here recomputes the chain
//   linkage (SHA-256(previous ‖ event hash)) and checks every checkpoint signature against the
//   key outside the database. Shipping 73 bytes instead of each event's canonical text, and
//   hashing where the row is, is what brings a million events from ~18 s to a few seconds.
// - Exact pass, only for a range where the fast pass saw anything wrong: the canonical text of
//   each event is fetched and hashed here, which tells a changed event from a moved one.
//
// Trust boundary: in the fast pass, event hashes are recomputed inside PostgreSQL from the stored
// row; a superuser able to replace the server's functions could make them lie. The chain and the
// signed checkpoints are always checked here. To keep the fast pass honest, a random sample of
// events (256 by default) is also rebuilt here from their raw columns (canonicalEvent in
// audit-chain.ts, no SQL involved) and compared with their seals. `thorough` skips the fast pass
// and hashes every event's canonical text here (`custos audit verify --thorough`).
import { randomInt } from 'node:crypto';
import type { Signer } from '../../platform/crypto/signing.js';
import { GENESIS_HASH, canonicalHash, checkpointMessage, eventHash, linkHash, voidHash, withSeq } from './audit-chain.js';
import type { AuditRepo, CanonicalRow, PurgeEvent } from './audit-repo.js';
import type { BreakKind, ChainLink, Checkpoint, Verification } from './audit-types.js';

export type Progress = (done: number, total: number) => void;
export interface VerifyOptions {
  onProgress?: Progress;
  /** Skip the fast pass: every event's canonical text is hashed here. */
  thorough?: boolean;
  /** How many random events to rebuild from raw columns here (default 256). */
  sample?: number;
  /** Sequence numbers per range (tests use small ranges to cross range boundaries). */
  rangeSize?: number;
}

type Failure = NonNullable<Verification['break']>;

const DAY_MS = 86_400_000;
/** Clock difference tolerated between the database (event times) and the signer (checkpoint times). */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Why a purge event is not an acceptable anchor for the range it claims to have removed, or null.
 * audit_purge_through() writes `retention N days: …` and only purges a range whose checkpoint was
 * signed at least N days before the purge, so a purge event is accepted only when: it exists,
 * says how long the retention was, comes after the checkpoint in the chain, the checkpoint (signed
 * with the key outside the database) is older than that retention at the purge's time, and the
 * purge's time is not later than the next signed checkpoint (nor than now), so it cannot have
 * been post-dated to make a recent range look old.
 */
export function purgeAnchorProblem(start: Checkpoint, purge: PurgeEvent | null, checkpoints: Checkpoint[], now = Date.now()): string | null {
  if (!purge) return `no purge event names checkpoint #${start.id} (event ${start.seq})`;
  const named = `the purge event ${purge.seq} naming checkpoint #${start.id} (event ${start.seq})`;
  const days = Number(/^retention (\d+) days: /.exec(purge.detail ?? '')?.[1]);
  if (purge.actorKind !== 'system' || purge.outcome !== 'allowed' || purge.resourceType !== 'audit_range' || !(days >= 1)) {
    return `${named} is not one audit_purge_through() writes`;
  }
  if (purge.seq <= start.seq) return `${named} lies inside the range it claims to have removed`;
  const purgedAt = Date.parse(purge.occurredAt);
  const signedAt = Date.parse(start.signedAt);
  if (signedAt > purgedAt - days * DAY_MS) {
    return `${named} removed a range inside the ${days}-day retention period (checkpoint signed ${start.signedAt}, purge recorded ${purge.occurredAt})`;
  }
  const next = checkpoints.find((c) => c.seq >= purge.seq);
  const latest = next ? Date.parse(next.signedAt) : now;
  if (purgedAt > latest + CLOCK_SKEW_MS) {
    return `${named} is dated ${purge.occurredAt}, after ${next ? `checkpoint #${next.id} that covers it was signed (${next.signedAt})` : 'the present'}`;
  }
  return null;
}
interface State { seq: number; previous: Buffer; eventsChecked: number }

const RANGE = 50_000;
const READ_AHEAD = 3;
const LINK_BYTES = 8 + 1 + 32 + 32;

type Deps = {
  repo: AuditRepo;
  signer: Pick<Signer, 'verify'>;
  fingerprint: string;
};

export function createAuditVerifier({ repo, signer, fingerprint }: Deps) {
  return async function verify(options: VerifyOptions = {}): Promise<Verification> {
    const started = Date.now();
    const checkpoints = await repo.checkpoints();
    const bounds = await repo.chainBounds();
    const state: State = { seq: 0, previous: GENESIS_HASH, eventsChecked: 0 };
    let anchor: Verification['anchor'] = null;

    const finish = async (failure: Failure | null): Promise<Verification> => ({
      intact: !failure,
      message: failure
        ? `broken at event ${failure.seq} (${failure.kind}): ${failure.detail}; intact up to event ${state.seq}`
        : `intact up to event ${state.seq}`,
      intactUpTo: state.seq,
      eventsChecked: state.eventsChecked,
      checkpointsChecked: checkpoints.length,
      unsealed: failure ? 0 : await repo.countEventsAfter(bounds.last ?? state.seq),
      anchor,
      break: failure,
      durationMs: Date.now() - started,
    });
    const broken = (seq: number, kind: BreakKind, detail: string): Failure => ({ seq, kind, detail });

    for (const c of checkpoints) {
      if (c.keyFingerprint !== fingerprint || !signer.verify(checkpointMessage(c.seq, c.chainHash, c.signedAt), c.signature)) {
        return finish(broken(c.seq, 'signature', `the signature of checkpoint #${c.id} (event ${c.seq}) does not verify with the configured signing key`));
      }
    }
    const bySeq = new Map(checkpoints.map((c) => [c.seq, c]));

    // After a retention purge the chain starts at a signed checkpoint that a valid purge event names.
    const firstSealed = bounds.first ?? (checkpoints.at(-1)?.seq ?? 0) + 1;
    if (firstSealed > 1) {
      const start = bySeq.get(firstSealed - 1);
      if (!start) return finish(broken(1, 'missing', `events 1–${firstSealed - 1} are gone without a signed purge anchor`));
      const refused = purgeAnchorProblem(start, await repo.purgeEvent(start.seq), checkpoints);
      if (refused) return finish(broken(1, 'missing', `events 1–${firstSealed - 1} are gone: ${refused}`));
      anchor = { seq: start.seq, checkpointId: start.id };
      state.seq = start.seq;
      state.previous = start.chainHash;
    }

    /** The link after `state`: checks linkage and the checkpoint there, then advances. */
    function advance(seq: number, hash: Buffer, chainHash: Buffer, isEvent: boolean): Failure | null {
      const chained = linkHash(state.previous, hash);
      if (!chained.equals(chainHash)) return broken(seq, 'changed', `the seal of event ${seq} was altered`);
      const signed = bySeq.get(seq);
      if (signed && !signed.chainHash.equals(chained)) {
        return broken(seq, 'changed', `signed checkpoint #${signed.id} disagrees: events up to ${seq} were rewritten together with their seals`);
      }
      state.seq = seq;
      state.previous = chained;
      if (isEvent) state.eventsChecked += 1;
      return null;
    }

    /** Exact pass over (state.seq, to]: canonical text hashed here, moved events told from edited ones. */
    async function exact(to: number): Promise<Failure | null> {
      const from = state.seq + 1;
      const [batch, rows] = await Promise.all([repo.chainRange(from, to), repo.canonicalInRange(from, to)]);
      const events = new Map(rows.map((e) => [e.seq, e]));
      for (const link of batch) {
        if (link.seq !== state.seq + 1) return gap(link.seq, events.has(state.seq + 1));
        const event = events.get(link.seq);
        let hash: Buffer;
        if (link.kind === 'void') {
          if (event) return broken(link.seq, 'inserted', `event ${link.seq} appeared at a sequence number sealed as unused`);
          hash = voidHash(link.seq);
        } else {
          if (!event) return broken(link.seq, 'missing', `event ${link.seq} was deleted`);
          hash = canonicalHash(event.canonical);
          if (!hash.equals(link.eventHash)) {
            const moved = originalPosition(event, batch);
            return moved === null
              ? broken(link.seq, 'changed', `event ${link.seq} differs from what was sealed`)
              : broken(link.seq, 'reordered', `event ${link.seq} holds the event sealed at position ${moved}`);
          }
        }
        const failure = advance(link.seq, hash, link.chainHash, link.kind === 'event');
        if (failure) return failure;
      }
      return null;
    }

    function gap(nextSealed: number, orphanExists: boolean): Failure {
      const seq = state.seq + 1;
      if (orphanExists) return broken(seq, 'changed', `the seal of event ${seq} was removed`);
      return broken(seq, 'missing', nextSealed - seq > 1
        ? `events ${seq}–${nextSealed - 1} were deleted together with their seals`
        : `event ${seq} was deleted together with its seal`);
    }

    /** Fast pass over one range; false when anything looks wrong (the exact pass then names it). */
    function fast(links: Buffer, suspects: number[]): boolean {
      if (suspects.length) return false;
      for (let at = 0; at < links.length; at += LINK_BYTES) {
        const seq = Number(links.readBigInt64BE(at));
        const isEvent = links[at + 8] === 1;
        const hash = links.subarray(at + 9, at + 41);
        if (seq !== state.seq + 1) return false;
        if (!isEvent && !hash.equals(voidHash(seq))) return false;
        if (advance(seq, hash, links.subarray(at + 41, at + 73), isEvent)) return false;
      }
      return true;
    }

    const last = bounds.last ?? 0;
    options.onProgress?.(0, bounds.count);
    const fetchRange = (from: number) => {
      const to = Math.min(from + (options.rangeSize ?? RANGE) - 1, last);
      const fetched = options.thorough ? Promise.resolve(null) : repo.verifyRange(from, to);
      fetched.catch(() => {});
      return { to, fetched };
    };
    const ahead: Array<ReturnType<typeof fetchRange>> = [];
    let nextFrom = state.seq + 1;
    for (;;) {
      while (ahead.length < READ_AHEAD && nextFrom <= last) {
        const range = fetchRange(nextFrom);
        ahead.push(range);
        nextFrom = range.to + 1;
      }
      if (!ahead.length) break;
      const { to, fetched } = ahead.shift()!;
      const packed = await fetched;
      if (packed && !packed.links.length) continue; // a whole range of seals is gone: the next link reports it
      const saved = { ...state };
      if (!packed || !fast(packed.links, packed.suspects)) {
        Object.assign(state, saved);
        const failure = await exact(to);
        if (failure) return finish(failure);
      }
      options.onProgress?.(state.eventsChecked, bounds.count);
    }
    const beyond = checkpoints.at(-1);
    if (beyond && beyond.seq > state.seq) {
      return finish(broken(state.seq + 1, 'missing', `checkpoint #${beyond.id} vouches for events up to ${beyond.seq}, but the trail ends at ${state.seq}`));
    }
    // Independent of PostgreSQL's canonical form and hash: a random sample rebuilt from raw columns.
    const sampled = await sampleCheck(options.thorough ? 0 : options.sample ?? 256, firstSealed, state.seq);
    return finish(sampled);
  };

  /** For a changed row: was it sealed at another position (moved) rather than edited? */
  function originalPosition(event: CanonicalRow, batch: ChainLink[]): number | null {
    for (const link of batch) {
      if (link.kind !== 'event' || link.seq === event.seq) continue;
      if (canonicalHash(withSeq(event.canonical, link.seq)).equals(link.eventHash)) return link.seq;
    }
    return null;
  }

  async function sampleCheck(size: number, from: number, to: number): Promise<Failure | null> {
    if (size <= 0 || to < from) return null;
    const seqs = new Set<number>();
    if (size >= to - from + 1) {
      // A sample as large as the range is the whole range: random draws would miss about e^-2 of it.
      for (let seq = from; seq <= to; seq++) seqs.add(seq);
    } else {
      for (let i = 0; i < size * 2 && seqs.size < size; i++) seqs.add(randomInt(from, to + 1));
    }
    for (const { event, link } of await repo.eventsWithSeals([...seqs])) {
      if (link.kind === 'event' && !eventHash(event).equals(link.eventHash)) {
        return { seq: event.seq, kind: 'changed', detail: `event ${event.seq} differs from what was sealed (rebuilt from its columns outside PostgreSQL)` };
      }
    }
    return null;
  }
}
