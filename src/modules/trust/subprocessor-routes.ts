// Handlers keyed by operationId for sub-processors: the public list and Atom feed, the double
// opt-in subscription, and the staff changes (security and admin; audited by the service).
import type { RouteTable } from '../../platform/platform.js';
import { publicRoute, staffContext } from './trust-routes.js';
import type { PublicRateLimit } from './public-rate-limit.js';
import type { Subprocessor, SubprocessorChange } from './subprocessors-repo.js';
import type { SubprocessorService } from './subprocessor-service.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const subprocessorView = (s: Subprocessor) => ({
  id: s.id, name: s.name, purpose: s.purpose, location: s.location, dataCategories: s.dataCategories,
  effectiveAt: s.effectiveAt.toISOString(), removalEffectiveAt: iso(s.removalEffectiveAt),
});

export function subprocessorRoutes(subprocessors: SubprocessorService, rateLimit: PublicRateLimit, publicUrl?: string): RouteTable {
  const base = publicUrl?.replace(/\/+$/, '') ?? '';
  const changeView = (c: SubprocessorChange) => ({
    id: c.id, subprocessorId: c.subprocessorId, name: c.name, kind: c.kind, summary: c.summary,
    announcedAt: c.announcedAt.toISOString(), effectiveAt: c.effectiveAt.toISOString(), noticeDays: subprocessors.noticeDaysOf(c),
  });

  return {
    listSubprocessors: publicRoute(rateLimit, 300, async (_req, res) => {
      const { current, upcoming } = await subprocessors.publicList();
      res.json({ items: current.map(subprocessorView), upcoming: upcoming.map(changeView), noticePeriodDays: subprocessors.noticeDays, feedUrl: `${base}/api/v1/trust/subprocessors/feed` });
    }),

    getSubprocessorFeed: publicRoute(rateLimit, 300, async (_req, res) => {
      const changes = await subprocessors.changes(100);
      const updated = (changes[0]?.announcedAt ?? new Date(0)).toISOString();
      const self = `${base}/api/v1/trust/subprocessors/feed`;
      // RFC 4287: feed id/title/updated, one entry per announced change (id as a urn:uuid).
      const entries = changes.map((c) => `  <entry>
    <id>urn:uuid:${c.id}</id>
    <title>${xml(`${c.kind === 'added' ? 'Added' : c.kind === 'removed' ? 'Removed' : 'Changed'}: ${c.name}`)}</title>
    <updated>${c.announcedAt.toISOString()}</updated>
    <published>${c.announcedAt.toISOString()}</published>
    <summary>${xml(`${c.summary} Effective ${c.effectiveAt.toISOString()} (${subprocessors.noticeDaysOf(c)} days' notice).`)}</summary>
    <link rel="alternate" href="${xml(`${base}/trust#subprocessors`)}"/>
  </entry>`);
      res.type('application/atom+xml; charset=utf-8').send(`<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>${xml(self)}</id>
  <title>Sub-processor changes</title>
  <updated>${updated}</updated>
  <author><name>Trust centre</name></author>
  <link rel="self" href="${xml(self)}"/>
${entries.join('\n')}
</feed>
`);
    }),

    subscribeToTrustUpdates: publicRoute(rateLimit, 0, async (req, res) => {
      await subprocessors.subscribe(String(req.body.email));
      res.status(202).json({ status: 'confirmation_sent', detail: 'If the address can receive mail, a confirmation link is on its way; nothing is sent until you confirm.' });
    }),

    confirmTrustSubscription: publicRoute(rateLimit, 0, async (req, res) => {
      await subprocessors.confirm(String(req.params.token));
      res.json({ status: 'confirmed' });
    }),

    addSubprocessor: async (req, res) => {
      const b = req.body;
      const s = await subprocessors.add({ name: b.name, purpose: b.purpose, location: b.location, dataCategories: b.dataCategories, effectiveAt: b.effectiveAt ? new Date(b.effectiveAt) : undefined }, staffContext(req));
      res.status(201).json(subprocessorView(s));
    },

    updateSubprocessor: async (req, res) => {
      res.json(subprocessorView(await subprocessors.update(String(req.params.subprocessorId), req.body, staffContext(req))));
    },

    removeSubprocessor: async (req, res) => {
      const at = req.query.effectiveAt ? new Date(String(req.query.effectiveAt)) : undefined;
      res.json(subprocessorView(await subprocessors.remove(String(req.params.subprocessorId), at, staffContext(req))));
    },
  };
}
