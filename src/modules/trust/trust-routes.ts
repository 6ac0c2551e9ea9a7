// Handlers keyed by operationId for the trust centre: parse, call a service, respond. Public
// routes go through `publicRoute`: rate-limited per IP, then cacheable.
import type { Request, Response } from 'express';
import { requireStaff } from '../../platform/http/auth.js';
import { NotFoundError } from '../../platform/http/problem.js';
import type { Handler, RouteTable } from '../../platform/platform.js';
import { requestContext } from '../audit/audit-service.js';
import type { PublicRateLimit } from './public-rate-limit.js';
import type { TrustService } from './trust-service.js';
import type { VulnerabilityReportRow, VulnerabilityState } from './trust-types.js';
import type { AuditContext, VulnerabilityService } from './vulnerability-service.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export interface TrustRouteDeps {
  trust: TrustService;
  vulnerabilities: VulnerabilityService;
  rateLimit: PublicRateLimit;
  publicUrl?: string;
  postureCacheSeconds: number;
}

export const staffContext = (req: Request): AuditContext & { actor: { kind: 'staff'; staffId: string } } => {
  const staff = requireStaff(req);
  return { actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role }, ...requestContext(req) };
};

/** Anonymous route: per-IP budget first, then `Cache-Control: public` for `maxAge` seconds (0 = no-store). */
export function publicRoute(rateLimit: PublicRateLimit, maxAge: number, handler: Handler): Handler {
  return async (req: Request, res: Response) => {
    await rateLimit.assertAllowed(req.ip ?? 'unknown');
    if (maxAge > 0) res.set('Cache-Control', `public, max-age=${maxAge}`);
    await handler(req, res);
  };
}

export function trustRoutes({ trust, vulnerabilities, rateLimit, publicUrl, postureCacheSeconds }: TrustRouteDeps): RouteTable {
  const base = publicUrl?.replace(/\/+$/, '') ?? '';
  const summary = (r: VulnerabilityReportRow) => {
    const deadlines = vulnerabilities.deadlinesOf(r).map((d) => ({ kind: d.kind, dueAt: d.dueAt.toISOString(), metAt: iso(d.metAt), overdue: d.overdue }));
    return {
      id: r.id, title: r.title, state: r.state, pgpEncrypted: r.pgpEncrypted, credit: r.credit,
      receivedAt: r.receivedAt.toISOString(), acknowledgedAt: iso(r.acknowledgedAt), triagedAt: iso(r.triagedAt),
      fixedAt: iso(r.fixedAt), disclosedAt: iso(r.disclosedAt), rejectedAt: iso(r.rejectedAt), updatedAt: r.updatedAt.toISOString(),
      deadlines, overdue: deadlines.some((d) => d.overdue),
    };
  };

  return {
    getSecurityTxt: publicRoute(rateLimit, 3600, (_req, res) => {
      const text = trust.securityTxt();
      if (!text) throw new NotFoundError('No security contact is configured (CUSTOS_SECURITY_CONTACT).');
      res.type('text/plain; charset=utf-8').send(text);
    }),

    getTrustPosture: publicRoute(rateLimit, postureCacheSeconds, async (_req, res) => {
      const signed = await trust.signedPosture();
      // JSON.stringify nests the posture's own serialisation verbatim, so the signed bytes appear
      // unchanged in the body (a test extracts them from the raw text and checks with openssl).
      res.json({ posture: signed.posture, signature: signed.signature, algorithm: 'Ed25519', publicKeyUrl: '/api/v1/signing-key' });
    }),

    submitVulnerabilityReport: publicRoute(rateLimit, 0, async (req, res) => {
      const { report, statusToken } = await vulnerabilities.submit(req.body);
      const [acknowledge, timeline] = vulnerabilities.deadlinesOf(report);
      res.status(201).location(`/api/v1/trust/vulnerability-reports/status/${statusToken}`).json({
        id: report.id,
        state: 'received',
        receivedAt: report.receivedAt.toISOString(),
        acknowledgeBy: acknowledge.dueAt.toISOString(),
        timelineBy: timeline.dueAt.toISOString(),
        statusUrl: `${base}/api/v1/trust/vulnerability-reports/status/${statusToken}`,
      });
    }),

    getVulnerabilityReportStatus: publicRoute(rateLimit, 0, async (req, res) => {
      const r = await vulnerabilities.byStatusToken(String(req.params.token));
      const { deadlines } = summary(r);
      res.json({ id: r.id, title: r.title, state: r.state, receivedAt: r.receivedAt.toISOString(), updatedAt: r.updatedAt.toISOString(), deadlines });
    }),

    listTrustAcknowledgements: publicRoute(rateLimit, 300, async (_req, res) => {
      res.json({ items: (await vulnerabilities.credits()).map((c) => ({ credit: c.credit, title: c.title, disclosedAt: c.disclosedAt.toISOString() })) });
    }),

    listVulnerabilityReports: async (req, res) => {
      requireStaff(req);
      const q = req.query as Record<string, unknown>;
      let items = (await vulnerabilities.list({ state: q.state as VulnerabilityState | undefined, limit: Number(q.limit ?? 100) })).map(summary);
      if (q.overdue !== undefined) {
        const wanted = q.overdue === true || q.overdue === 'true';
        items = items.filter((i) => i.overdue === wanted);
      }
      res.json({ items });
    },

    getVulnerabilityReport: async (req, res) => {
      const opened = await vulnerabilities.open(String(req.params.reportId), staffContext(req));
      res.json({ ...summary(opened.report), description: opened.description, email: opened.email });
    },

    updateVulnerabilityReport: async (req, res) => {
      res.json(summary(await vulnerabilities.transition(String(req.params.reportId), req.body.state, staffContext(req))));
    },
  };
}
