// The rules of the audit trail: recording (fail closed: the caller awaits the insert before it
// returns any data), who may see which entries, and retention.
import type { Request } from 'express';
import { pepperedHash } from '../../platform/crypto/hashing.js';
import type { AuditIntegrity } from './audit-integrity.js';
import type { AuditRepo } from './audit-repo.js';
import type { AuditEvent, AuditEventInput, EventFilter } from './audit-types.js';

type Deps = {
  repo: AuditRepo;
  integrity: AuditIntegrity;
  pepper: Buffer;
  staffDisplay: 'pseudonym' | 'email';
  retentionDays: number;
  /** Called when the retention recorded in the database (which applies) differs from this process's. */
  onRetentionMismatch?: (recorded: number, configured: number) => void;
  /** Called when a background seal fails (the scheduled seal retries). */
  onSealError?: (error: Error) => void;
  sealDelayMs?: number;
};

export interface AccessLogEntry {
  seq: number;
  at: string;
  staff: { role: string | null; display: string };
  action: string;
  outcome: string;
  reason: string | null;
  resourceType: string | null;
  resourceIds: string[];
}

/** Request id, source IP and user agent of a request, as the trail stores them. */
export const requestContext = (req: Request) => ({
  requestId: req.requestId ?? null,
  sourceIp: req.ip ?? req.socket?.remoteAddress ?? null,
  userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
});

const encodeCursor = (seq: number) => Buffer.from(`s${seq}`).toString('base64url');
export function decodeCursor(cursor: string | undefined): number | null {
  if (!cursor) return null;
  const match = /^s(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : NaN;
}

export function createAuditService({ repo, integrity, pepper, staffDisplay, retentionDays, onRetentionMismatch, onSealError, sealDelayMs = 200 }: Deps) {
  // Each write asks for a seal shortly after (debounced, never awaited by the request), so the
  // window in which a fresh event is not yet chained is a fraction of a second, not the
  // scheduler's 10 s; one seal links everything written meanwhile in one batch.
  let sealTimer: NodeJS.Timeout | undefined;
  const scheduleSeal = () => {
    sealTimer ??= setTimeout(() => {
      sealTimer = undefined;
      integrity.seal().catch((error: Error) => onSealError?.(error));
    }, sealDelayMs).unref();
  };

  // A stable pseudonym per staff member: the user can tell whether the same person came back
  // without learning who it is (GDPR Art. 15 asks for recipients, not staff identities).
  const pseudonym = (staffId: string) => `staff-${pepperedHash(pepper, 'custos.audit.staff-pseudonym\0', staffId).toString('hex').slice(0, 12)}`;

  const accessLogEntry = (e: AuditEvent): AccessLogEntry => ({
    seq: e.seq,
    at: e.occurredAt,
    staff: {
      role: e.actorRole,
      display: e.actorStaffId ? (staffDisplay === 'email' && e.actorEmail ? e.actorEmail : pseudonym(e.actorStaffId)) : 'system',
    },
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    resourceType: e.resourceType,
    resourceIds: e.resourceIds,
  });

  // Accesses to an account: staff events about the user that were let through (denied attempts
  // read nothing and stay for the DPO's eyes).
  const accessFilter = (userId: string): EventFilter => ({ userId });
  const isAccess = (e: AuditEvent) => e.actorKind === 'staff' && e.outcome !== 'denied';

  return {
    ...integrity,
    pseudonym,

    /** Writes one event; resolves once it is committed. Callers await it before returning data. */
    async record(event: AuditEventInput): Promise<{ seq: number }> {
      const written = await repo.insertEvent(event);
      scheduleSeal();
      return written;
    },

    /**
     * A staff read recorded first: `read` runs alongside the event's INSERT (its result stays in
     * memory), and is handed over only once the event is committed; if recording fails, the
     * result is dropped and the error thrown (fail closed). The added latency is then what the
     * commit takes beyond the read, not the two one after the other. Only for reads: a change
     * must not happen unless its record exists, so changes call `record` and then act.
     */
    async recordedRead<T>(event: AuditEventInput, read: () => Promise<T>): Promise<T> {
      const reading = read().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
      await this.record(event);
      const outcome = await reading;
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    },

    async listEvents(filter: EventFilter, cursor: string | undefined, limit: number) {
      const before = decodeCursor(cursor);
      const items = await repo.listEvents(filter, Number.isNaN(before) ? 0 : before, limit + 1);
      const page = items.slice(0, limit);
      return { items: page, nextCursor: items.length > limit ? encodeCursor(page.at(-1)!.seq) : null };
    },

    /** Every matching event, newest first, in pages, for streamed exports. */
    async *exportEvents(filter: EventFilter, pageSize = 1_000): AsyncIterable<AuditEvent> {
      let before: number | null = null;
      for (;;) {
        const page = await repo.listEvents(filter, before, pageSize);
        yield* page;
        if (page.length < pageSize) return;
        before = page.at(-1)!.seq;
      }
    },

    async accessLog(userId: string, cursor: string | undefined, limit: number) {
      let before = decodeCursor(cursor);
      if (Number.isNaN(before)) before = 0;
      const entries: AccessLogEntry[] = [];
      // Denied events are filtered after the query; keep reading until the page is full.
      for (;;) {
        const rows = await repo.listEvents(accessFilter(userId), before, limit + 1);
        for (const row of rows) if (isAccess(row)) entries.push(accessLogEntry(row));
        if (entries.length > limit || rows.length < limit + 1) break;
        before = rows.at(-1)!.seq;
      }
      const items = entries.slice(0, limit);
      return { items, nextCursor: entries.length > limit ? encodeCursor(items.at(-1)!.seq) : null };
    },

    /** The user's share for the data export (privacy module). */
    async *accessLogForExport(userId: string): AsyncIterable<Record<string, unknown>> {
      let before: number | null = null;
      for (;;) {
        const rows = await repo.listEvents(accessFilter(userId), before, 1_000);
        for (const row of rows) if (isAccess(row)) yield { ...accessLogEntry(row) };
        if (rows.length < 1_000) return;
        before = rows.at(-1)!.seq;
      }
    },

    /**
     * Retention: removes the newest whole checkpointed range whose events are all older than the
     * retention period, after checking the trail is intact (a purge must not destroy evidence of
     * tampering). The period is the one `custos migrate` recorded in the database, which
     * audit_purge_through() enforces and which this process cannot shorten; the function also
     * records the purge as an event.
     */
    async purgeExpired(now = new Date()): Promise<{ purgedThrough: number | null; removed: number; reason: string }> {
      const days = await repo.recordedRetentionDays();
      if (days === null) return { purgedThrough: null, removed: 0, reason: 'refused: no retention period is recorded in the database (run custos migrate)' };
      if (days !== retentionDays) onRetentionMismatch?.(days, retentionDays);
      const cutoff = new Date(now.getTime() - days * 86_400_000);
      const verification = await integrity.verify();
      if (!verification.intact) return { purgedThrough: null, removed: 0, reason: `refused: ${verification.message}` };
      const firstKept = await repo.firstSeqSince(cutoff);
      const anchorSeq = verification.anchor?.seq ?? 0;
      const target = (await repo.checkpoints())
        .filter((c) => c.seq > anchorSeq && (firstKept === null || c.seq < firstKept) && Date.parse(c.signedAt) <= cutoff.getTime()).at(-1);
      if (!target) return { purgedThrough: null, removed: 0, reason: `no whole checkpointed range is past the ${days}-day retention period` };
      const removed = await repo.purgeThrough(target.seq);
      return { purgedThrough: target.seq, removed, reason: `removed ${removed} events through ${target.seq} (retention ${days} days)` };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
