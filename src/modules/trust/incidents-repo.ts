// SQL of incidents, their timeline, affected users, notification requests and the outbox.
import type { Knex } from '../../platform/db.js';

export interface Incident {
  id: string;
  title: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  awareAt: Date;
  personalDataInvolved: boolean;
  createdBy: string;
  authorityNotifiedAt: Date | null;
  usersNotifiedAt: Date | null;
  closedAt: Date | null;
  createdAt: Date;
  affectedUsers: number;
}

export interface IncidentUpdate {
  id: number;
  kind: string;
  body: string;
  authorStaffId: string | null;
  at: Date;
}

export interface IncidentNotification {
  id: string;
  incidentId: string;
  message: string;
  state: 'pending' | 'completed';
  recipients: number | null;
  createdAt: Date;
  completedAt: Date | null;
}

const incidentFromRow = (r: Record<string, any>): Incident => ({
  id: r.id,
  title: r.title,
  severity: r.severity,
  awareAt: r.aware_at,
  personalDataInvolved: r.personal_data_involved,
  createdBy: r.created_by,
  authorityNotifiedAt: r.authority_notified_at,
  usersNotifiedAt: r.users_notified_at,
  closedAt: r.closed_at,
  createdAt: r.created_at,
  affectedUsers: Number(r.affected_users ?? 0),
});

const notificationFromRow = (r: Record<string, any>): IncidentNotification => ({
  id: r.id, incidentId: r.incident_id, message: r.message, state: r.state, recipients: r.recipients, createdAt: r.created_at, completedAt: r.completed_at,
});

export function createIncidentsRepo(db: Knex) {
  const withCounts = (q: Knex = db) => q('incidents').select('incidents.*', q.raw('(SELECT count(*) FROM incident_affected_users a WHERE a.incident_id = incidents.id) AS affected_users'));

  return {
    async insertIncident(input: { id: string; title: string; severity: string; awareAt: Date; personalDataInvolved: boolean; createdBy: string; affectedUserIds: string[] }): Promise<Incident> {
      await db.transaction(async (trx) => {
        await trx('incidents').insert({ id: input.id, title: input.title, severity: input.severity, aware_at: input.awareAt, personal_data_involved: input.personalDataInvolved, created_by: input.createdBy });
        if (input.affectedUserIds.length) {
          await trx('incident_affected_users').insert(input.affectedUserIds.map((user_id) => ({ incident_id: input.id, user_id }))).onConflict().ignore();
        }
        await trx('incident_updates').insert({ incident_id: input.id, author_staff_id: input.createdBy, kind: 'opened', body: `Opened: ${input.title}` });
      });
      return (await this.findIncident(input.id))!;
    },

    async findIncident(id: string): Promise<Incident | null> {
      const row = await withCounts().where('incidents.id', id).first();
      return row ? incidentFromRow(row) : null;
    },

    async listIncidents(filter: { open?: boolean; limit: number }): Promise<Incident[]> {
      const q = withCounts().orderBy('aware_at', 'desc').limit(filter.limit);
      if (filter.open === true) q.whereNull('closed_at');
      if (filter.open === false) q.whereNotNull('closed_at');
      return (await q).map(incidentFromRow);
    },

    async updateIncident(id: string, changes: { authorityNotifiedAt?: Date; closedAt?: Date | null }, update: { authorStaffId: string; kind: string; body: string }): Promise<void> {
      await db.transaction(async (trx) => {
        const set: Record<string, unknown> = {};
        if (changes.authorityNotifiedAt) set.authority_notified_at = changes.authorityNotifiedAt;
        if (changes.closedAt !== undefined) set.closed_at = changes.closedAt;
        if (Object.keys(set).length) await trx('incidents').where({ id }).update(set);
        await trx('incident_updates').insert({ incident_id: id, author_staff_id: update.authorStaffId, kind: update.kind, body: update.body });
      });
    },

    async timeline(id: string): Promise<IncidentUpdate[]> {
      const rows = await db('incident_updates').where({ incident_id: id }).orderBy('at').orderBy('id');
      return rows.map((r) => ({ id: Number(r.id), kind: r.kind, body: r.body, authorStaffId: r.author_staff_id, at: r.at }));
    },

    async insertNotification(input: { id: string; incidentId: string; message: string; createdBy: string }): Promise<IncidentNotification> {
      const [row] = await db('incident_notifications').insert({ id: input.id, incident_id: input.incidentId, message: input.message, created_by: input.createdBy }).returning('*');
      return notificationFromRow(row);
    },

    async findNotification(id: string): Promise<IncidentNotification | null> {
      const row = await db('incident_notifications').where({ id }).first();
      return row ? notificationFromRow(row) : null;
    },

    async pendingNotifications(): Promise<string[]> {
      return (await db('incident_notifications').where({ state: 'pending' }).select('id')).map((r) => r.id);
    },

    /**
     * Writes one outbox message per affected user (repeatable: the dedupe key makes a retried job
     * insert nothing twice), then completes the notification and stamps the incident, in one
     * transaction.
     */
    async deliverNotification(notification: IncidentNotification, subject: string): Promise<number> {
      return db.transaction(async (trx) => {
        const users = (await trx('incident_affected_users').where({ incident_id: notification.incidentId }).select('user_id')).map((r) => r.user_id as string);
        for (let i = 0; i < users.length; i += 1000) {
          await trx('trust_outbox').insert(users.slice(i, i + 1000).map((userId) => ({
            kind: 'incident_notice', dedupe_key: `incident-notification:${notification.id}:${userId}`, user_id: userId, subject, body: notification.message,
          }))).onConflict('dedupe_key').ignore();
        }
        const done = await trx('incident_notifications').where({ id: notification.id, state: 'pending' })
          .update({ state: 'completed', recipients: users.length, completed_at: trx.fn.now() });
        if (done) {
          await trx('incidents').where({ id: notification.incidentId }).update({ users_notified_at: trx.raw('coalesce(users_notified_at, now())') });
          await trx('incident_updates').insert({ incident_id: notification.incidentId, kind: 'users_notified', body: `Notice recorded for ${users.length} affected user(s).` });
        }
        return users.length;
      });
    },

    async outboxFor(filter: { userId?: string; kind?: string }): Promise<Array<{ id: string; kind: string; subject: string; body: string; state: string; createdAt: Date }>> {
      const q = db('trust_outbox').orderBy('created_at');
      if (filter.userId) q.where({ user_id: filter.userId });
      if (filter.kind) q.where({ kind: filter.kind });
      return (await q).map((r) => ({ id: r.id, kind: r.kind, subject: r.subject, body: r.body, state: r.state, createdAt: r.created_at }));
    },
  };
}

export type IncidentsRepo = ReturnType<typeof createIncidentsRepo>;
