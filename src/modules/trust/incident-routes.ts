// Handlers keyed by operationId for incidents (security and admin staff; every change audited).
import type { Request } from 'express';
import { requireStaff } from '../../platform/http/auth.js';
import { NotFoundError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import { requestContext } from '../audit/audit-service.js';
import type { Incident, IncidentNotification } from './incidents-repo.js';
import type { IncidentService } from './incident-service.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const context = (req: Request) => {
  const staff = requireStaff(req);
  return { actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role }, ...requestContext(req) };
};

export function incidentRoutes(incidents: IncidentService): RouteTable {
  const view = (i: Incident) => {
    const deadlines = incidents.deadlinesOf(i).map((d) => ({ kind: d.kind, dueAt: d.dueAt.toISOString(), metAt: iso(d.metAt), overdue: d.overdue }));
    return {
      id: i.id, title: i.title, severity: i.severity, awareAt: i.awareAt.toISOString(), personalDataInvolved: i.personalDataInvolved,
      affectedUsers: i.affectedUsers, authorityNotifiedAt: iso(i.authorityNotifiedAt), usersNotifiedAt: iso(i.usersNotifiedAt),
      closedAt: iso(i.closedAt), createdAt: i.createdAt.toISOString(), deadlines, overdue: deadlines.some((d) => d.overdue),
    };
  };
  const notificationView = (n: IncidentNotification) => ({ id: n.id, incidentId: n.incidentId, state: n.state, recipients: n.recipients, createdAt: n.createdAt.toISOString(), completedAt: iso(n.completedAt) });
  const withTimeline = async (i: Incident) => ({
    ...view(i),
    timeline: (await incidents.timeline(i.id)).map((u) => ({ kind: u.kind, body: u.body, authorStaffId: u.authorStaffId, at: u.at.toISOString() })),
  });

  return {
    openIncident: async (req, res) => {
      const b = req.body;
      const incident = await incidents.open({ title: b.title, severity: b.severity, awareAt: new Date(b.awareAt), personalDataInvolved: b.personalDataInvolved, affectedUserIds: b.affectedUserIds }, context(req));
      res.status(201).location(`/api/v1/admin/incidents/${incident.id}`).json(await withTimeline(incident));
    },
    listIncidents: async (req, res) => {
      const q = req.query as Record<string, unknown>;
      const flag = (v: unknown) => (v === undefined ? undefined : v === true || v === 'true');
      const items = await incidents.list({ open: flag(q.open), overdue: flag(q.overdue), limit: Number(q.limit ?? 100) });
      res.json({ items: items.map(view) });
    },
    getIncident: async (req, res) => {
      res.json(await withTimeline(await incidents.get(String(req.params.incidentId))));
    },
    updateIncident: async (req, res) => {
      const id = String(req.params.incidentId);
      const ctx = context(req);
      let incident = await incidents.get(id);
      if (req.body.authorityNotifiedAt) incident = await incidents.recordAuthorityNotified(id, new Date(req.body.authorityNotifiedAt), ctx);
      if (req.body.state) incident = await incidents.setClosed(id, req.body.state === 'closed', ctx);
      res.json(await withTimeline(incident));
    },
    addIncidentUpdate: async (req, res) => {
      res.status(201).json(await withTimeline(await incidents.addUpdate(String(req.params.incidentId), req.body.body, context(req))));
    },
    notifyIncidentUsers: async (req, res) => {
      const n = await incidents.notifyAffectedUsers(String(req.params.incidentId), req.body.message, context(req));
      res.status(202).location(`/api/v1/admin/incidents/${n.incidentId}/user-notifications/${n.id}`).json(notificationView(n));
    },
    getIncidentNotification: async (req, res) => {
      const n = await incidents.getNotification(String(req.params.notificationId));
      if (n.incidentId !== String(req.params.incidentId)) throw new NotFoundError('No such notification.');
      res.json(notificationView(n));
    },
  };
}
