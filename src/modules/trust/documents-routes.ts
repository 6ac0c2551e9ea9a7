// Handlers keyed by operationId for trust-centre documents and their NDA-gated access.
import type { Request, Response } from 'express';
import type { RouteTable } from '../../platform/platform.js';
import type { AccessRequest, TrustDocument } from './documents-repo.js';
import type { DocumentsService } from './documents-service.js';
import type { PublicRateLimit } from './public-rate-limit.js';
import { publicRoute, staffContext } from './trust-routes.js';
import { singleFileUpload } from './trust-upload.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const client = (req: Request) => ({ ip: req.ip ?? null, userAgent: req.get('user-agent')?.slice(0, 512) ?? null });

export const documentView = (d: TrustDocument) => ({
  id: d.id, title: d.title, description: d.description, visibility: d.visibility, fileName: d.fileName, mediaType: d.mediaType,
  sizeBytes: d.sizeBytes, sha256: d.sha256, createdAt: d.createdAt.toISOString(), downloadUrl: `/api/v1/trust/documents/${d.id}/download`,
});
const requestView = (r: AccessRequest) => ({
  id: r.id, documentId: r.documentId, state: r.state, createdAt: r.createdAt.toISOString(), decidedAt: iso(r.decidedAt),
  ndaAcceptedAt: iso(r.ndaAcceptedAt), grantExpiresAt: iso(r.grantExpiresAt),
});

function sendFile(res: Response, doc: TrustDocument, bytes: Buffer, grantee?: string) {
  const name = grantee ? doc.fileName.replace(/(\.[^.]+)?$/, (ext) => `-grant-${grantee}${ext}`) : doc.fileName;
  res.type(doc.mediaType).set('Content-Disposition', `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
  if (grantee) res.set('X-Custos-Grantee', grantee).set('Cache-Control', 'private, no-store');
  res.send(bytes);
}

export function documentRoutes(documents: DocumentsService, rateLimit: PublicRateLimit, uploadLimitBytes: number): RouteTable {
  const upload = singleFileUpload(uploadLimitBytes);
  return {
    listTrustDocuments: publicRoute(rateLimit, 300, async (_req, res) => {
      res.json({ items: (await documents.list()).map(documentView), nda: { url: '/api/v1/trust/nda', sha256: documents.nda().sha256 } });
    }),
    getTrustNda: publicRoute(rateLimit, 300, (_req, res) => {
      res.json(documents.nda());
    }),
    downloadTrustDocument: publicRoute(rateLimit, 0, async (req, res) => {
      const id = String(req.params.documentId);
      if (req.query.grant) {
        const { doc, bytes, grantee } = await documents.downloadGranted(id, String(req.query.grant), client(req));
        sendFile(res, doc, bytes, grantee);
      } else {
        const { doc, bytes } = await documents.downloadPublic(id, client(req));
        res.set('Cache-Control', 'public, max-age=300');
        sendFile(res, doc, bytes);
      }
    }),
    requestDocumentAccess: publicRoute(rateLimit, 0, async (req, res) => {
      const r = await documents.requestAccess(String(req.params.documentId), req.body);
      res.status(202).json({ id: r.id, detail: 'A link to follow your request is on its way to your email address.' });
    }),
    getDocumentAccessRequest: publicRoute(rateLimit, 0, async (req, res) => {
      const r = await documents.byToken(String(req.params.token));
      res.json({ ...requestView(r), nda: documents.nda() });
    }),
    acceptDocumentNda: publicRoute(rateLimit, 0, async (req, res) => {
      const token = String(req.params.token);
      const r = await documents.acceptNda(token, String(req.body.ndaSha256), client(req));
      res.json({ ...requestView(r), downloadUrl: `/api/v1/trust/documents/${r.documentId}/download?grant=${token}` });
    }),
    uploadTrustDocument: async (req, res) => {
      const file = await upload(req, res);
      const q = req.query as Record<string, string>;
      const doc = await documents.upload({ title: q.title, description: q.description, visibility: q.visibility as 'public' | 'restricted', fileName: file.originalname, bytes: file.buffer }, staffContext(req));
      res.status(201).json(documentView(doc));
    },
    listDocumentAccessRequests: async (req, res) => {
      const items = await documents.listRequests(req.query.state as string | undefined);
      res.json({ items: await Promise.all(items.map(async (r) => ({ ...requestView(r), name: r.name, company: r.company, email: await documents.openRequestEmail(r), purpose: r.purpose, decidedBy: r.decidedBy }))) });
    },
    decideDocumentAccessRequest: async (req, res) => {
      res.json(requestView(await documents.decide(String(req.params.requestId), req.body.approve === true, staffContext(req))));
    },
  };
}
