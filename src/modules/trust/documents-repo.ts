// SQL of trust-centre documents, access requests (NDA and grant) and downloads.
import type { Knex, ListingReads } from '../../platform/db.js';

export interface TrustDocument {
  id: string;
  title: string;
  description: string;
  visibility: 'public' | 'restricted';
  fileName: string;
  mediaType: string;
  sizeBytes: number;
  sha256: string;
  storageKey: string;
  createdAt: Date;
}

export interface AccessRequest {
  id: string;
  documentId: string;
  name: string;
  company: string;
  emailEnc: Buffer;
  emailDomain: string;
  purpose: string;
  state: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: Date | null;
  ndaSha256: string | null;
  ndaAcceptedAt: Date | null;
  grantExpiresAt: Date | null;
  createdAt: Date;
}

const docFromRow = (r: Record<string, any>): TrustDocument => ({
  id: r.id, title: r.title, description: r.description, visibility: r.visibility, fileName: r.file_name, mediaType: r.media_type,
  sizeBytes: Number(r.size_bytes), sha256: r.sha256, storageKey: r.storage_key, createdAt: r.created_at,
});
const requestFromRow = (r: Record<string, any>): AccessRequest => ({
  id: r.id, documentId: r.document_id, name: r.name, company: r.company, emailEnc: r.email_enc, emailDomain: r.email_domain, purpose: r.purpose,
  state: r.state, decidedBy: r.decided_by, decidedAt: r.decided_at, ndaSha256: r.nda_sha256, ndaAcceptedAt: r.nda_accepted_at,
  grantExpiresAt: r.grant_expires_at, createdAt: r.created_at,
});

/** `listings`: the pool of the public document list, which tolerates replica lag (see ListingReads); everything else uses `db`. */
export function createDocumentsRepo(db: Knex, listings: ListingReads) {
  return {
    async insertDocument(d: Omit<TrustDocument, 'createdAt'> & { createdBy: string }): Promise<TrustDocument> {
      const [row] = await db('trust_documents').insert({
        id: d.id, title: d.title, description: d.description, visibility: d.visibility, file_name: d.fileName, media_type: d.mediaType,
        size_bytes: d.sizeBytes, sha256: d.sha256, storage_key: d.storageKey, created_by: d.createdBy,
      }).returning('*');
      return docFromRow(row);
    },
    async findDocument(id: string): Promise<TrustDocument | null> {
      const row = await db('trust_documents').where({ id }).whereNull('withdrawn_at').first();
      return row ? docFromRow(row) : null;
    },
    async listDocuments(): Promise<TrustDocument[]> {
      return (await listings('trust_documents').whereNull('withdrawn_at').orderBy('title')).map(docFromRow);
    },
    async insertRequest(r: { id: string; documentId: string; name: string; company: string; emailEnc: Buffer; emailDomain: string; purpose: string; tokenHash: Buffer; autoApproved: boolean },
      message: { subject: string; body: string; linkEnc: (outboxId: string) => Promise<Buffer> }): Promise<AccessRequest> {
      return db.transaction(async (trx) => {
        const [row] = await trx('document_access_requests').insert({
          id: r.id, document_id: r.documentId, name: r.name, company: r.company, email_enc: r.emailEnc, email_domain: r.emailDomain, purpose: r.purpose, token_hash: r.tokenHash,
          ...(r.autoApproved ? { state: 'approved', decided_by: 'auto:email-domain', decided_at: trx.fn.now() } : {}),
        }).returning('*');
        const [outbox] = await trx('trust_outbox').insert({ kind: 'document_access', dedupe_key: `document-access:${r.id}`, subject: message.subject, body: message.body }).returning('id');
        await trx('trust_outbox').where({ id: outbox.id }).update({ link_enc: await message.linkEnc(outbox.id) });
        return requestFromRow(row);
      });
    },
    async findRequest(id: string): Promise<AccessRequest | null> {
      const row = await db('document_access_requests').where({ id }).first();
      return row ? requestFromRow(row) : null;
    },
    async findRequestByToken(hash: Buffer): Promise<AccessRequest | null> {
      const row = await db('document_access_requests').where({ token_hash: hash }).first();
      return row ? requestFromRow(row) : null;
    },
    async listRequests(state?: string): Promise<AccessRequest[]> {
      const q = db('document_access_requests').orderBy('created_at', 'desc').limit(500);
      if (state) q.where({ state });
      return (await q).map(requestFromRow);
    },
    async decide(id: string, state: 'approved' | 'rejected', decidedBy: string): Promise<AccessRequest | null> {
      const [row] = await db('document_access_requests').where({ id, state: 'pending' }).update({ state, decided_by: decidedBy, decided_at: db.fn.now() }).returning('*');
      return row ? requestFromRow(row) : null;
    },
    async acceptNda(id: string, nda: { sha256: string; ip: string | null; userAgent: string | null; grantExpiresAt: Date }): Promise<AccessRequest | null> {
      const [row] = await db('document_access_requests').where({ id, state: 'approved' }).update({
        nda_sha256: nda.sha256, nda_accepted_at: db.fn.now(), nda_ip: nda.ip, nda_user_agent: nda.userAgent, grant_expires_at: nda.grantExpiresAt,
      }).returning('*');
      return row ? requestFromRow(row) : null;
    },
    async recordDownload(d: { documentId: string; accessRequestId: string | null; ip: string | null; userAgent: string | null }): Promise<void> {
      await db('document_downloads').insert({ document_id: d.documentId, access_request_id: d.accessRequestId, ip: d.ip, user_agent: d.userAgent });
    },
  };
}

export type DocumentsRepo = ReturnType<typeof createDocumentsRepo>;
