// The trail's readers: DPO/security/admin (events, export, verification) and the user (own
// access log). Reading the trail is itself recorded, before anything is returned.
import type { Request, Response } from 'express';
import { requireStaff, requireUser } from '../../platform/http/auth.js';
import { BadRequestError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import { decodeCursor, requestContext, type AuditService } from './audit-service.js';
import type { AuditEvent, EventFilter } from './audit-types.js';

export const eventView = (e: AuditEvent) => ({
  seq: e.seq,
  occurredAt: e.occurredAt,
  actor: { kind: e.actorKind, staffId: e.actorStaffId, email: e.actorEmail, role: e.actorRole },
  action: e.action,
  outcome: e.outcome,
  subjectUserId: e.subjectUserId,
  resourceType: e.resourceType,
  resourceIds: e.resourceIds,
  reason: e.reason,
  justification: e.justification,
  requestId: e.requestId,
  sourceIp: e.sourceIp,
  userAgent: e.userAgent,
  detail: e.detail,
});

const CSV_COLUMNS = ['seq', 'occurredAt', 'actorKind', 'actorStaffId', 'actorEmail', 'actorRole', 'action', 'outcome', 'subjectUserId',
  'resourceType', 'resourceIds', 'reason', 'justification', 'requestId', 'sourceIp', 'userAgent', 'detail'] as const;

/** RFC 4180 quoting; a leading = + - @ is neutralised so a spreadsheet never runs a cell as a formula. */
function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : Array.isArray(value) ? value.join(' ') : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const query = (req: Request) => req.query as Record<string, string | number | undefined>;

function parseCursor(cursor: string | undefined) {
  if (Number.isNaN(decodeCursor(cursor))) throw new BadRequestError('The cursor is not valid; use nextCursor from the previous page.', [{ field: 'query.cursor', message: 'is not a cursor' }]);
  return cursor;
}

async function stream(res: Response, rows: AsyncIterable<AuditEvent>, format: 'csv' | 'jsonl') {
  res.status(200).type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8');
  res.set('Content-Disposition', `attachment; filename="audit-events.${format}"`);
  if (format === 'csv') res.write(`${CSV_COLUMNS.join(',')}\r\n`);
  for await (const e of rows) {
    const line = format === 'csv' ? `${CSV_COLUMNS.map((c) => csvCell(e[c])).join(',')}\r\n` : `${JSON.stringify(eventView(e))}\n`;
    if (!res.write(line)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

export function auditRoutes(audit: AuditService): RouteTable {
  return {
    listAuditEvents: async (req, res) => {
      const staff = requireStaff(req);
      const q = query(req);
      const filter: EventFilter = {
        staffId: q.staffId as string | undefined,
        userId: q.userId as string | undefined,
        action: q.action as string | undefined,
        reason: q.reason as string | undefined,
        outcome: q.outcome as EventFilter['outcome'],
        from: q.from ? new Date(String(q.from)) : undefined,
        to: q.to ? new Date(String(q.to)) : undefined,
      };
      const format = (q.format ?? 'json') as 'json' | 'csv' | 'jsonl';
      const cursor = parseCursor(q.cursor as string | undefined);
      await audit.record({
        actor: { kind: 'staff', staffId: staff.staffId, email: staff.email, role: staff.role },
        action: format === 'json' ? 'audit.events.read' : 'audit.events.export',
        outcome: 'allowed',
        // The filter (including a user id) goes in detail: oversight reads are not shown in the
        // user's access log, which lists staff looking at the account itself.
        resourceType: 'audit_events',
        detail: JSON.stringify({ ...filter, format, cursor }),
        ...requestContext(req),
      });
      if (format !== 'json') return stream(res, audit.exportEvents(filter), format);
      const page = await audit.listEvents(filter, cursor, Number(q.limit ?? 50));
      res.json({ items: page.items.map(eventView), nextCursor: page.nextCursor });
    },

    verifyAuditTrail: async (req, res) => {
      const staff = requireStaff(req);
      await audit.record({
        actor: { kind: 'staff', staffId: staff.staffId, email: staff.email, role: staff.role },
        action: 'audit.verify',
        outcome: 'allowed',
        resourceType: 'audit_events',
        ...requestContext(req),
      });
      res.json(await audit.verify());
    },

    getMyAccessLog: async (req, res) => {
      const user = requireUser(req);
      const q = query(req);
      res.json(await audit.accessLog(user.userId, parseCursor(q.cursor as string | undefined), Number(q.limit ?? 50)));
    },
  };
}
