// Trust-centre documents. Public ones download directly; restricted ones need an access request
// (the link goes to the requester's mailbox, which proves the address), approval by staff or by
// an allowed email domain, an NDA click-through recorded with the exact text's SHA-256, time, IP
// and user agent, and then an expiring grant. Every download is recorded, and a restricted copy
// carries its grant's id inside the file (document-stamp.ts, run in a worker thread). File bytes are stored encrypted
// under the document's own data key.
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { randomToken, sha256 } from '../../platform/crypto/hashing.js';
import { ConflictError, ForbiddenError, NotFoundError, ServiceUnavailableError, UnprocessableError, UnsupportedMediaTypeError } from '../../platform/http/problem.js';
import type { ArtifactStorage } from '../../platform/storage.js';
import type { AuditService } from '../audit/audit-service.js';
import type { AccessRequest, DocumentsRepo, TrustDocument } from './documents-repo.js';
import type { AuditContext } from './vulnerability-service.js';
import type { StampPool } from './document-stamp-pool.js';

const TOKEN_PREFIX = 'cda_';
const MEDIA_TYPES: Record<string, string> = {
  pdf: 'application/pdf', txt: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', csv: 'text/csv; charset=utf-8',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', zip: 'application/zip',
};

export const DEFAULT_NDA = `MUTUAL NON-DISCLOSURE AGREEMENT (click-through)
By accepting, you agree to keep the documents you download from this trust centre confidential, to use
them only to evaluate our security, not to share them outside your organisation, and to delete them
when that evaluation ends. Each copy is recorded against your access grant.
`;

type Deps = {
  repo: DocumentsRepo;
  artifacts: Pick<ArtifactStorage, 'put' | 'get'>;
  fieldCipher: Pick<FieldCipher, 'encryptBytes' | 'decryptBytes' | 'encryptText' | 'decryptText'>;
  audit: Pick<AuditService, 'record'>;
  autoApproveDomains: string[];
  grantHours: number;
  ndaText: string;
  publicUrl?: string;
  /** Marks each restricted copy with its grant, off the event loop. */
  stamper: Pick<StampPool, 'stamp'>;
};

export interface ClientInfo { ip: string | null; userAgent: string | null }

export function createDocumentsService({ repo, artifacts, fieldCipher, audit, autoApproveDomains, grantHours, ndaText, publicUrl, stamper }: Deps) {
  const base = publicUrl?.replace(/\/+$/, '') ?? '';
  const ndaSha256 = createHash('sha256').update(ndaText).digest('hex');
  const contentAt = (id: string) => ({ table: 'trust_documents', column: 'content', rowId: id });
  const find = async (id: string) => {
    const d = await repo.findDocument(id);
    if (!d) throw new NotFoundError('No such document.');
    return d;
  };
  const read = async (doc: TrustDocument): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of await artifacts.get(doc.storageKey)) chunks.push(chunk as Buffer);
    return fieldCipher.decryptBytes(contentAt(doc.id), Buffer.concat(chunks));
  };
  const byToken = async (token: string) => {
    const r = token.startsWith(TOKEN_PREFIX) ? await repo.findRequestByToken(sha256(token)) : null;
    if (!r) throw new NotFoundError('This access link is not valid.');
    return r;
  };

  return {
    nda: () => ({ text: ndaText, sha256: ndaSha256 }),
    list: () => repo.listDocuments(),

    async upload(input: { title: string; description?: string; visibility: 'public' | 'restricted'; fileName: string; bytes: Buffer }, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      const extension = input.fileName.split('.').pop()?.toLowerCase() ?? '';
      const mediaType = MEDIA_TYPES[extension];
      if (!mediaType) throw new UnsupportedMediaTypeError(`Documents must be one of: ${Object.keys(MEDIA_TYPES).join(', ')} (by file extension).`);
      // Fail closed: a restricted copy is only ever served marked with its grant, so a file that cannot be marked is refused now.
      const markable = input.visibility !== 'restricted' || await stamper.stamp(extension, input.bytes, { grantId: randomUUID(), company: 'check', issuedAt: new Date() }).then(() => true, (error) => {
        if (error instanceof ServiceUnavailableError) throw error; // busy, not unmarkable
        return false;
      });
      if (!markable) {
        throw new UnprocessableError(`This .${extension} file cannot be opened to mark each copy with its access grant (an encrypted or damaged file?): upload an unencrypted, valid file.`);
      }
      const id = randomUUID();
      await audit.record({ ...context, action: 'trust.document.upload', outcome: 'allowed', resourceType: 'trust_document', resourceIds: [id], detail: `${input.visibility}: ${input.title}` });
      const storageKey = `trust/documents/${id}`;
      await artifacts.put(storageKey, Readable.from([await fieldCipher.encryptBytes(id, contentAt(id), input.bytes)]));
      return repo.insertDocument({
        id, title: input.title, description: input.description ?? '', visibility: input.visibility, fileName: input.fileName, mediaType,
        sizeBytes: input.bytes.length, sha256: createHash('sha256').update(input.bytes).digest('hex'), storageKey, createdBy: context.actor.staffId,
      });
    },

    async downloadPublic(id: string, client: ClientInfo) {
      const doc = await find(id);
      if (doc.visibility !== 'public') throw new ForbiddenError('This document is restricted: request access (POST …/access-requests), accept the NDA, then download with your grant.');
      await repo.recordDownload({ documentId: id, accessRequestId: null, ...client });
      return { doc, bytes: await read(doc) };
    },

    async requestAccess(documentId: string, input: { name: string; company: string; email: string; purpose: string }) {
      const doc = await find(documentId);
      if (doc.visibility === 'public') throw new ConflictError('This document is public: download it directly.');
      const id = randomUUID();
      const token = randomToken(TOKEN_PREFIX);
      const email = input.email.trim().toLowerCase();
      const domain = email.split('@').pop()!;
      const autoApproved = autoApproveDomains.includes(domain);
      const request = await repo.insertRequest(
        { id, documentId, name: input.name, company: input.company, purpose: input.purpose, emailDomain: domain, tokenHash: sha256(token), autoApproved,
          emailEnc: await fieldCipher.encryptText(id, { table: 'document_access_requests', column: 'email_enc', rowId: id }, email) },
        {
          subject: `Your access request: ${doc.title}`,
          body: 'Follow the link to see your request, accept the NDA once it is approved, and download the document.',
          linkEnc: (outboxId) => fieldCipher.encryptText(id, { table: 'trust_outbox', column: 'link_enc', rowId: outboxId }, `${base}/api/v1/trust/access-requests/${token}`),
        },
      );
      return request;
    },

    byToken,

    async acceptNda(token: string, acceptedSha256: string, client: ClientInfo): Promise<AccessRequest> {
      const r = await byToken(token);
      if (r.state === 'pending') throw new ConflictError('Your request is awaiting approval; you can accept the NDA once it is approved.');
      if (r.state === 'rejected') throw new ForbiddenError('This access request was declined.');
      if (acceptedSha256 !== ndaSha256) throw new ConflictError('The NDA has changed since you read it: read GET /api/v1/trust/nda again and accept that text.', { ndaSha256 });
      const accepted = await repo.acceptNda(r.id, { sha256: ndaSha256, ...client, grantExpiresAt: new Date(Date.now() + grantHours * 3600_000) });
      if (!accepted) throw new ConflictError('The request changed meanwhile; try again.');
      return accepted;
    },

    /** A restricted document for a valid grant; the download is recorded against it. */
    async downloadGranted(documentId: string, token: string, client: ClientInfo) {
      const r = await byToken(token);
      if (r.documentId !== documentId) throw new NotFoundError('This access link is not valid.');
      if (r.state !== 'approved' || !r.ndaAcceptedAt || !r.grantExpiresAt) throw new ForbiddenError('Accept the NDA first (POST /api/v1/trust/access-requests/{token}/nda).');
      if (r.grantExpiresAt.getTime() < Date.now()) throw new ForbiddenError('Your access grant has expired; request access again.');
      const doc = await find(documentId);
      const bytes = await stamper.stamp(doc.fileName.split('.').pop()?.toLowerCase() ?? '', await read(doc), { grantId: r.id, company: r.company, issuedAt: new Date() });
      await repo.recordDownload({ documentId, accessRequestId: r.id, ...client });
      return { doc, bytes, grantee: r.id };
    },

    listRequests: (state?: string) => repo.listRequests(state),
    async openRequestEmail(r: AccessRequest) {
      return fieldCipher.decryptText({ table: 'document_access_requests', column: 'email_enc', rowId: r.id }, r.emailEnc);
    },

    async decide(id: string, approve: boolean, context: AuditContext & { actor: { kind: 'staff'; staffId: string } }) {
      const r = await repo.findRequest(id);
      if (!r) throw new NotFoundError('No such access request.');
      if (r.state !== 'pending') throw new ConflictError(`This request is already ${r.state}.`);
      await audit.record({ ...context, action: approve ? 'trust.document_access.approve' : 'trust.document_access.reject', outcome: 'allowed', resourceType: 'document_access_request', resourceIds: [id] });
      const decided = await repo.decide(id, approve ? 'approved' : 'rejected', `staff:${context.actor.staffId}`);
      if (!decided) throw new ConflictError('The request changed meanwhile.');
      return decided;
    },
  };
}

export type DocumentsService = ReturnType<typeof createDocumentsService>;
