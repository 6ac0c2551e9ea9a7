// Incidents and their notification clocks. Deadlines are derived from aware_at (GDPR Art. 33(1):
// the supervisory authority "not later than 72 hours after having become aware of it" when
// personal data is involved; the product's promise: affected users within 24 hours) and from
// the times the notifications were made; nothing editable holds a deadline or an overdue flag.
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError } from '../../platform/http/problem.js';
import type { Queues } from '../../platform/queues.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { AuditService } from '../audit/audit-service.js';
import { addHours, isOverdue, type Deadline } from './clocks.js';
import type { Incident, IncidentsRepo } from './incidents-repo.js';
import type { AuditContext } from './vulnerability-service.js';

export const AUTHORITY_WITHIN_HOURS = 72;
export const USERS_WITHIN_HOURS = 24;
export const NOTIFY_QUEUE = 'trust-incident-notify';

type Deps = {
  repo: IncidentsRepo;
  accounts: Pick<AccountsService, 'getAccount'>;
  audit: Pick<AuditService, 'record'>;
  queues: Pick<Queues, 'enqueue'>;
};

export function incidentDeadlines(i: Pick<Incident, 'awareAt' | 'personalDataInvolved' | 'affectedUsers' | 'authorityNotifiedAt' | 'usersNotifiedAt'>): Deadline[] {
  const deadlines: Deadline[] = [];
  if (i.personalDataInvolved) deadlines.push({ kind: 'authority', dueAt: addHours(i.awareAt, AUTHORITY_WITHIN_HOURS), metAt: i.authorityNotifiedAt });
  if (i.personalDataInvolved || i.affectedUsers > 0) deadlines.push({ kind: 'users', dueAt: addHours(i.awareAt, USERS_WITHIN_HOURS), metAt: i.usersNotifiedAt });
  return deadlines;
}

export function createIncidentService({ repo, accounts, audit, queues }: Deps) {
  const deadlinesOf = (i: Incident, now = new Date()) => incidentDeadlines(i).map((d) => ({ ...d, overdue: isOverdue(d, now) }));
  const find = async (id: string) => {
    const incident = await repo.findIncident(id);
    if (!incident) throw new NotFoundError('No such incident.');
    return incident;
  };
  const change = (context: AuditContext, action: string, id: string, detail: string) =>
    audit.record({ ...context, action, outcome: 'allowed', resourceType: 'incident', resourceIds: [id], detail });

  return {
    deadlinesOf,

    async open(input: { title: string; severity: string; awareAt: Date; personalDataInvolved: boolean; affectedUserIds?: string[] }, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }): Promise<Incident> {
      if (input.awareAt.getTime() > Date.now() + 60_000) throw new BadRequestError('awareAt is in the future: give the moment the team became aware of the incident.', [{ field: 'body.awareAt', message: 'must not be in the future' }]);
      const affected = [...new Set(input.affectedUserIds ?? [])];
      const unknown: string[] = [];
      for (const userId of affected) await accounts.getAccount('user', userId).catch(() => { unknown.push(userId); });
      if (unknown.length) throw new BadRequestError(`affectedUserIds names unknown users: ${unknown.join(', ')}.`, [{ field: 'body.affectedUserIds', message: 'must name existing users' }]);
      const id = randomUUID();
      await change(context, 'trust.incident.open', id, `${input.severity}: ${input.title}`);
      return repo.insertIncident({ id, ...input, affectedUserIds: affected, createdBy: context.actor.staffId });
    },

    get: find,
    timeline: (id: string) => repo.timeline(id),

    async list(filter: { open?: boolean; overdue?: boolean; limit: number }) {
      const items = await repo.listIncidents({ open: filter.open, limit: filter.limit });
      if (filter.overdue === undefined) return items;
      return items.filter((i) => deadlinesOf(i).some((d) => d.overdue) === filter.overdue);
    },

    async addUpdate(id: string, body: string, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      await find(id);
      await change(context, 'trust.incident.update', id, 'timeline entry added');
      await repo.updateIncident(id, {}, { authorStaffId: context.actor.staffId, kind: 'update', body });
      return find(id);
    },

    async recordAuthorityNotified(id: string, at: Date, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      const incident = await find(id);
      if (!incident.personalDataInvolved) throw new ConflictError('This incident involves no personal data: GDPR Art. 33 asks for no authority notification.');
      if (at < incident.awareAt) throw new BadRequestError('authorityNotifiedAt is before awareAt.', [{ field: 'body.authorityNotifiedAt', message: 'must not be before awareAt' }]);
      await change(context, 'trust.incident.authority_notified', id, at.toISOString());
      await repo.updateIncident(id, { authorityNotifiedAt: at }, { authorStaffId: context.actor.staffId, kind: 'authority_notified', body: `Supervisory authority notified at ${at.toISOString()}.` });
      return find(id);
    },

    async setClosed(id: string, closed: boolean, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      await find(id);
      await change(context, closed ? 'trust.incident.close' : 'trust.incident.reopen', id, closed ? 'closed' : 'reopened');
      await repo.updateIncident(id, { closedAt: closed ? new Date() : null }, { authorStaffId: context.actor.staffId, kind: closed ? 'closed' : 'reopened', body: closed ? 'Closed.' : 'Reopened.' });
      return find(id);
    },

    /** Records the request in PostgreSQL, then enqueues a job carrying only its id. */
    async notifyAffectedUsers(id: string, message: string, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      const incident = await find(id);
      if (incident.affectedUsers === 0) throw new ConflictError('This incident lists no affected users to notify.');
      const notificationId = randomUUID();
      await change(context, 'trust.incident.notify_users', id, `notification ${notificationId}`);
      const notification = await repo.insertNotification({ id: notificationId, incidentId: id, message, createdBy: context.actor.staffId });
      await queues.enqueue(NOTIFY_QUEUE, notificationId, { notificationId });
      return notification;
    },

    getNotification: async (id: string) => {
      const n = await repo.findNotification(id);
      if (!n) throw new NotFoundError('No such notification.');
      return n;
    },

    /** The job: writes the outbox messages; repeatable. */
    async deliverNotification(notificationId: string): Promise<number> {
      const notification = await repo.findNotification(notificationId);
      if (!notification || notification.state === 'completed') return 0;
      const incident = await find(notification.incidentId);
      return repo.deliverNotification(notification, `Security notice: ${incident.title}`);
    },

    /** Re-enqueues every pending notification (a lost Redis job delays a notice, never drops it). */
    async reconcile(): Promise<number> {
      const pending = await repo.pendingNotifications();
      for (const id of pending) await queues.enqueue(NOTIFY_QUEUE, id, { notificationId: id });
      return pending.length;
    },

    outboxFor: (filter: { userId?: string; kind?: string }) => repo.outboxFor(filter),
  };
}

export type IncidentService = ReturnType<typeof createIncidentService>;
