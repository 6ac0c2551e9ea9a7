// Handlers keyed by operationId: parse, call the privacy service, respond.
import type { Request } from 'express';
import { requireStaff, requireUser } from '../../platform/http/auth.js';
import { BadRequestError } from '../../platform/http/problem.js';
import type { RouteTable, Platform } from '../../platform/platform.js';
import { requestContext, type AuditService } from '../audit/audit-service.js';
import type { PrivacyService, Reauthentication } from './privacy-service.js';
import type { PrivacyRequest, RequestState } from './privacy-types.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const reauth = (req: Request): Reauthentication => ({ password: req.body.password, totp: req.body.totp, recoveryCode: req.body.recoveryCode, ip: req.ip ?? 'unknown' });
const exportStatus = (state: RequestState) => (state === 'scheduled' ? 'received' : state === 'cancelled' ? 'failed' : state);
const overdue = (r: PrivacyRequest) => r.dueAt.getTime() < Date.now() && ['received', 'scheduled', 'processing', 'failed'].includes(r.state);

/** "bytes=0-99", "bytes=100-", "bytes=-500" (last 500); undefined when absent; one range only. */
export function parseRange(header: string | undefined, size?: number): { start: number; end?: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new BadRequestError('Range must look like "bytes=START-END" (a single range).');
  if (m[1] === '') return { start: Math.max(0, (size ?? 0) - Number(m[2])) };
  return { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) };
}

export function privacyRoutes(privacy: PrivacyService, platform: Pick<Platform, 'signer' | 'artifacts' | 'config'>, audit: Pick<AuditService, 'record'>): RouteTable {
  const exportView = (r: PrivacyRequest) => ({
    id: r.id,
    status: exportStatus(r.state),
    progress: { phase: r.progress.phase ?? null, rows: r.progress.rows ?? 0, files: r.progress.files ?? 0, plaintextBytes: r.progress.plaintextBytes ?? 0 },
    encryption: r.publicKey ? 'publicKey' : 'passphrase',
    sizeBytes: r.artifactBytes,
    plaintextBytes: r.plaintextBytes,
    attempts: r.attempts,
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    completedAt: iso(r.completedAt),
    expiresAt: iso(r.expiresAt),
    dueAt: r.dueAt.toISOString(),
    downloadUrl: r.state === 'completed' ? `/api/v1/me/exports/${r.id}/download` : null,
  });
  const deletionView = (r: PrivacyRequest) => ({
    id: r.id,
    status: r.state,
    scheduledFor: iso(r.scheduledFor),
    dueAt: r.dueAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    completedAt: iso(r.completedAt),
    cancelledAt: iso(r.cancelledAt),
    progress: { phase: r.progress.phase ?? null, deletedRows: r.progress.counts ?? {} },
  });
  /**
   * An absolute link, so `curl "$receiptUrl"` works as given: PUBLIC_URL when set, else the address
   * the server listens on (startServer records it), else the origin this request reached.
   */
  const receiptUrl = (req: Request, token: string) => {
    const base = platform.config.publicUrl ?? (req.app.locals.listeningUrl as string | undefined) ?? `${req.protocol}://${req.get('host')}`;
    return `${base.replace(/\/+$/, '')}/api/v1/deletion-receipts/${token}`;
  };

  return {
    requestMyExport: async (req, res) => {
      const user = requireUser(req);
      const recipient = req.body.publicKey ? { publicKey: String(req.body.publicKey) } : { passphrase: String(req.body.passphrase) };
      const request = await privacy.requestExport(user.userId, reauth(req), recipient);
      res.status(202).location(`/api/v1/me/exports/${request.id}`).json(exportView(request));
    },
    getMyExport: async (req, res) => {
      res.json(exportView(await privacy.getExport(requireUser(req).userId, String(req.params.exportId))));
    },
    downloadMyExport: async (req, res) => {
      const user = requireUser(req);
      const id = String(req.params.exportId);
      const head = await privacy.getExport(user.userId, id);
      const range = parseRange(req.get('range'), head.artifactBytes ?? undefined);
      const file = await privacy.openDownload(user.userId, id, range);
      res.status(range ? 206 : 200).set({
        'Content-Type': 'application/pgp-encrypted',
        'Content-Length': String(file.end - file.start + 1),
        'Accept-Ranges': 'bytes',
        'Content-Disposition': `attachment; filename="custos-export-${id}.zip.gpg"`,
        ...(range ? { 'Content-Range': `bytes ${file.start}-${file.end}/${file.size}` } : {}),
      });
      file.stream.on('error', () => res.destroy());
      file.stream.pipe(res);
    },
    requestMyDeletion: async (req, res) => {
      const { request, receiptToken } = await privacy.requestDeletion(requireUser(req).userId, reauth(req));
      res.status(202).location('/api/v1/me/deletion').json({ ...deletionView(request), receiptUrl: receiptUrl(req, receiptToken) });
    },
    getMyDeletion: async (req, res) => {
      res.json(deletionView(await privacy.getDeletion(requireUser(req).userId)));
    },
    cancelMyDeletion: async (req, res) => {
      res.json(deletionView(await privacy.cancelDeletion(requireUser(req).userId)));
    },
    getDeletionReceipt: async (req, res) => {
      const r = await privacy.receiptByToken(String(req.params.token));
      res.json({
        requestId: r.id,
        status: r.state,
        scheduledFor: iso(r.scheduledFor),
        completedAt: iso(r.completedAt),
        receipt: r.receipt,
        signature: r.receiptSignature,
        algorithm: 'Ed25519',
        publicKeyUrl: '/api/v1/signing-key',
      });
    },
    getSigningKey: (_req, res) => {
      res.json({ algorithm: 'Ed25519', publicKeyPem: platform.signer.publicKeyPem });
    },
    listPrivacyRequests: async (req, res) => {
      const staff = requireStaff(req);
      const q = req.query as Record<string, unknown>;
      const filter = {
        type: q.type as never,
        state: q.state as never,
        overdue: q.overdue === undefined ? undefined : q.overdue === true || q.overdue === 'true',
        limit: Number(q.limit ?? 50),
        before: q.before ? new Date(String(q.before)) : undefined,
      };
      const items = await privacy.listRequests(filter);
      // The list links users to their export and deletion requests: a staff access, recorded
      // (with the ids of the requests shown) before any of it leaves. Fails closed like every
      // audited read. Not tied to one subject, so it stays out of the users' own access logs.
      await audit.record({
        actor: { kind: 'staff', staffId: staff.staffId, email: staff.email, role: staff.role },
        action: 'privacy.requests.read',
        outcome: 'allowed',
        resourceType: 'privacy_requests',
        resourceIds: items.map((r) => r.id),
        detail: JSON.stringify(filter),
        ...requestContext(req),
      });
      res.json({
        items: items.map((r) => ({
          id: r.id, userId: r.userId, type: r.type, state: r.state, attempts: r.attempts, lastError: r.lastError,
          dueAt: r.dueAt.toISOString(), overdue: overdue(r), scheduledFor: iso(r.scheduledFor), createdAt: r.createdAt.toISOString(),
          updatedAt: r.updatedAt.toISOString(), completedAt: iso(r.completedAt),
        })),
      });
    },
  };
}
