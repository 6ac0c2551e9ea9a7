// The rules of data-subject requests: who may ask, one running request per type, deadlines
// (GDPR Art. 12(3): one month), the grace period before erasure, and the durable job lifecycle
// (PostgreSQL is the truth; BullMQ jobs carry the request id only and are re-created by the
// reconciler whenever Redis lost them).
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { randomToken, sha256 } from '../../platform/crypto/hashing.js';
import { BadRequestError, ConflictError, GoneError, HttpProblem, NotFoundError } from '../../platform/http/problem.js';
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import { createDeletionRunner, exportPrefix } from './privacy-deletion.js';
import { buildExport, readRecipientKey, type ExportRecipient } from './privacy-export.js';
import type { Lease, PrivacyRepo } from './privacy-repo.js';
import { keepLeaseAlive, LeaseLostError, newLeaseOwner } from '../../platform/lease.js';
import type { PrivacyRequest, RequestState, RequestType } from './privacy-types.js';

export const EXPORT_QUEUE = 'privacy-export';
export const DELETION_QUEUE = 'privacy-deletion';
export const MAX_ATTEMPTS = 5;
const DAY_MS = 86_400_000;
const RECEIPT_TOKEN_PREFIX = 'cdr_';

const passphraseLocation = (id: string) => ({ table: 'privacy_requests', column: 'passphrase_enc', rowId: id });
/** A month after receipt (GDPR Art. 12(3)); the calendar month, as the regulation counts it. */
const oneMonthAfter = (d: Date) => { const due = new Date(d); due.setUTCMonth(due.getUTCMonth() + 1); return due; };

/** Error class and code only: a message may quote row values, which must not land in the request row. */
export const describeFailure = (error: unknown) => {
  const e = error as { name?: string; code?: string };
  return `${e?.name ?? 'Error'}${e?.code ? ` (${String(e.code).slice(0, 32)})` : ''}`.slice(0, 200);
};

export interface Reauthentication {
  password: string;
  totp?: string;
  recoveryCode?: string;
  /** Client IP, for the per-IP count of failed re-authentications. */
  ip: string;
}

type Deps = {
  repo: PrivacyRepo;
  platform: Pick<Platform, 'config' | 'logger' | 'queues' | 'fieldCipher' | 'keyStore' | 'signer' | 'artifacts'>;
  accounts: Pick<AccountsService, 'reauthenticate' | 'revokeAllSessions'>;
  /** Every module, read when a job runs (the container builds them after this service). */
  modules: () => ModuleRegistration[];
};

export function createPrivacyService({ repo, platform, accounts, modules }: Deps) {
  const { config, queues, fieldCipher, artifacts, logger } = platform;
  const runDeletion = createDeletionRunner({ repo, platform, modules });

  const queueOf = (type: RequestType) => (type === 'export' ? EXPORT_QUEUE : DELETION_QUEUE);
  const delayOf = (r: PrivacyRequest) => Math.max(0, (r.scheduledFor?.getTime() ?? 0) - Date.now());
  const enqueue = (r: PrivacyRequest) => queues.enqueue(queueOf(r.type), r.id, { requestId: r.id }, { delay: delayOf(r) });

  /** After a failure: back off and retry (BullMQ), or give up after MAX_ATTEMPTS and say why. */
  // A deletion never gives up: after a partial erasure, "failed" would leave the account locked
  // with half its data gone. It stays processing with its last error (the DPO's overdue view shows
  // it) and the reconciler keeps bringing it back. Exports can fail for good and be asked again.
  async function failed(request: PrivacyRequest, lease: Lease, error: unknown): Promise<void> {
    const final = request.type === 'export' && request.attempts >= MAX_ATTEMPTS;
    await repo.recordFailure(request.id, lease, describeFailure(error), final);
    logger.warn({ requestId: request.id, type: request.type, attempts: request.attempts, final, err: { name: (error as Error)?.name } }, 'privacy request attempt failed');
    if (!final) throw error;
  }

  /**
   * Password (+ second factor) again before an export or an erasure, under the login throttle
   * (same per-account counter): a stolen session must not become an unlimited password oracle.
   */
  async function reauthenticate(userId: string, auth: Reauthentication): Promise<void> {
    await accounts.reauthenticate('user', userId, { password: auth.password, totp: auth.totp, recoveryCode: auth.recoveryCode }, auth.ip);
  }

  async function running409(userId: string, type: RequestType): Promise<never> {
    const running = await repo.findRunning(userId, type);
    const path = type === 'export' ? `/api/v1/me/exports/${running?.id}` : '/api/v1/me/deletion';
    throw new ConflictError(`You already have a ${type} request in progress: follow it at ${path}.`, { runningRequestId: running?.id, location: path });
  }

  return {
    async requestExport(userId: string, auth: Reauthentication, recipient: ExportRecipient): Promise<PrivacyRequest> {
      await reauthenticate(userId, auth);
      if ('publicKey' in recipient) {
        try {
          await readRecipientKey(recipient.publicKey);
        } catch (error) {
          throw new BadRequestError(`publicKey cannot be used: ${(error as Error).message}.`, [{ field: 'body.publicKey', message: 'is not a usable OpenPGP v4 public key' }]);
        }
      }
      const id = randomUUID();
      const now = new Date();
      const request = await repo.insert({
        id,
        userId,
        type: 'export',
        state: 'received',
        dueAt: oneMonthAfter(now),
        passphraseEnc: 'passphrase' in recipient ? await fieldCipher.encryptText(userId, passphraseLocation(id), recipient.passphrase) : undefined,
        publicKey: 'publicKey' in recipient ? recipient.publicKey : undefined,
      });
      if (!request) return running409(userId, 'export');
      await enqueue(request).catch((error) => logger.warn({ requestId: id, err: { message: error.message } }, 'enqueue failed; the reconciler will retry'));
      return request;
    },

    async getExport(userId: string, id: string): Promise<PrivacyRequest> {
      const request = await repo.findById(id);
      if (!request || request.userId !== userId || request.type !== 'export') throw new NotFoundError('No such export.');
      return request;
    },

    /** The encrypted archive, whole or a byte range; 410 once expired. */
    async openDownload(userId: string, id: string, range?: { start: number; end?: number }): Promise<{ stream: Readable; size: number; start: number; end: number; request: PrivacyRequest }> {
      const request = await this.getExport(userId, id);
      const expired = request.state === 'expired' || (request.expiresAt !== null && request.expiresAt.getTime() <= Date.now());
      if (expired) {
        throw new GoneError(`This export expired on ${request.expiresAt?.toISOString()} and its file was deleted. Ask for a new one with POST /api/v1/me/exports.`);
      }
      if (request.state !== 'completed' || !request.artifactKey) {
        throw new ConflictError(`This export is ${request.state === 'failed' ? 'failed; ask for a new one with POST /api/v1/me/exports' : 'not ready yet; follow GET /api/v1/me/exports/' + id}.`);
      }
      const object = await artifacts.stat(request.artifactKey);
      if (!object) throw new GoneError('The export file is no longer available. Ask for a new one with POST /api/v1/me/exports.');
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? object.size - 1, object.size - 1);
      if (start > end || start >= object.size) {
        throw new HttpProblem(416, 'range-not-satisfiable', 'Range not satisfiable', `The file has ${object.size} bytes.`, {}, { 'Content-Range': `bytes */${object.size}` });
      }
      return { stream: await artifacts.get(request.artifactKey, { start, end }), size: object.size, start, end, request };
    },

    async requestDeletion(userId: string, auth: Reauthentication): Promise<{ request: PrivacyRequest; receiptToken: string }> {
      await reauthenticate(userId, auth);
      const now = new Date();
      const receiptToken = randomToken(RECEIPT_TOKEN_PREFIX);
      const scheduledFor = new Date(now.getTime() + config.privacy.deletionGraceDays * DAY_MS);
      const request = await repo.insert({
        id: randomUUID(), userId, type: 'deletion', state: 'scheduled', dueAt: oneMonthAfter(now), scheduledFor, receiptTokenHash: sha256(receiptToken),
      }, (trx) => repo.setUserStatus(trx, userId, 'pending_deletion'));
      if (!request) return running409(userId, 'deletion');
      // Modules that cache per-account state (the relay's API keys) drop it before we answer.
      await Promise.all(modules().map((m) => m.onAccountStatusChanged?.(userId).catch((error: Error) =>
        logger.warn({ module: m.name, err: { message: error.message } }, 'account status change not delivered'))));
      await enqueue(request).catch((error) => logger.warn({ requestId: request.id, err: { message: error.message } }, 'enqueue failed; the reconciler will retry'));
      return { request, receiptToken };
    },

    async cancelDeletion(userId: string): Promise<PrivacyRequest> {
      const cancelled = await repo.cancelDeletion(userId);
      if (!cancelled) {
        const running = await repo.findRunning(userId, 'deletion');
        if (running) throw new ConflictError('The deletion has started and can no longer be cancelled.');
        throw new NotFoundError('You have no scheduled deletion to cancel.');
      }
      const job = await queues.queue(DELETION_QUEUE).getJob(cancelled.id).catch(() => undefined);
      await job?.remove().catch(() => {}); // the job re-checks the state anyway
      return cancelled;
    },

    async getDeletion(userId: string): Promise<PrivacyRequest> {
      const request = await repo.findLatest(userId, 'deletion');
      if (!request) throw new NotFoundError('You have not asked for your account to be deleted.');
      return request;
    },

    async receiptByToken(token: string): Promise<PrivacyRequest> {
      const request = token.startsWith(RECEIPT_TOKEN_PREFIX) ? await repo.findByReceiptToken(sha256(token)) : null;
      if (!request) throw new NotFoundError('No such receipt.');
      return request;
    },

    listRequests: (filter: { type?: RequestType; state?: RequestState; overdue?: boolean; limit: number; before?: Date }) => repo.list(filter),

    /**
     * Job: build, encrypt and publish one export, under a lease (see repo.claim). Publishes only
     * if the request still exists, uncancelled, and no erasure of the account has started;
     * otherwise, or when the lease is lost mid-build, the archive and its temporary file go.
     */
    async runExport(requestId: string): Promise<void> {
      const lease: Lease = { owner: newLeaseOwner(), ms: config.jobLeaseMs };
      const request = await repo.claim(requestId, lease);
      if (!request) return;
      if (request.type !== 'export') return repo.releaseLease(requestId, lease);
      const held = keepLeaseAlive(lease.owner, `export ${request.id}`, lease.ms, () => repo.renewLease(request.id, lease));
      // One name per claim: a worker that lost the request deletes its own file, never the next holder's.
      const artifactKey = `${exportPrefix(request.userId)}${request.id}.${request.attempts}.zip.gpg`;
      try {
        const recipient: ExportRecipient = request.publicKey
          ? { publicKey: request.publicKey }
          : { passphrase: await fieldCipher.decryptText(passphraseLocation(request.id), request.passphraseEnc!) };
        const built = await buildExport({
          requestId: request.id, userId: request.userId, artifactKey, recipient, modules: modules(), artifacts, signal: held.signal,
          onProgress: async (progress) => { held.assertHeld(); await repo.mergeProgress(request.id, progress); },
        });
        const published = await repo.completeExport(request.id, request.userId, lease, {
          artifactKey,
          artifactBytes: built.artifactBytes,
          plaintextBytes: built.plaintextBytes,
          expiresAt: new Date(Date.now() + config.privacy.exportTtlDays * DAY_MS),
          progress: { phase: 'done', rows: built.rows, files: built.files, plaintextBytes: built.plaintextBytes },
        });
        if (!published) {
          await artifacts.delete(artifactKey);
          logger.info({ requestId: request.id }, 'export dropped unpublished: cancelled, account being erased, or taken over');
        }
      } catch (error) {
        await artifacts.delete(artifactKey).catch(() => false);
        if (held.lost || error instanceof LeaseLostError) {
          logger.info({ requestId: request.id }, 'export stopped: its lease was lost (cancelled by an erasure, or taken over)');
          return;
        }
        await failed(request, lease, error);
      } finally {
        held.stop();
        await repo.releaseLease(request.id, lease).catch(() => {});
      }
    },

    /**
     * Job: erase one account once its grace period is over. Repeatable after a crash at any point;
     * under a lease renewed by every batch, so two workers never erase the same account at once.
     */
    async runDeletion(requestId: string): Promise<void> {
      const lease: Lease = { owner: newLeaseOwner(), ms: config.jobLeaseMs };
      const request = await repo.claim(requestId, lease);
      if (!request) return;
      if (request.type !== 'deletion') return repo.releaseLease(requestId, lease);
      const held = keepLeaseAlive(lease.owner, `deletion ${request.id}`, lease.ms, () => repo.renewLease(request.id, lease));
      try {
        await accounts.revokeAllSessions('user', request.userId);
        await runDeletion(request, lease, held);
      } catch (error) {
        if (held.lost || error instanceof LeaseLostError) {
          logger.warn({ requestId: request.id }, 'deletion stopped: its lease was taken over by another worker');
          return;
        }
        await failed(request, lease, error);
      } finally {
        held.stop();
        await repo.releaseLease(request.id, lease).catch(() => {});
      }
    },

    /** Deletes expired export archives (and marks them expired). */
    async expireExports(): Promise<number> {
      let n = 0;
      for (const request of await repo.expiredExports()) {
        if (request.artifactKey) await artifacts.delete(request.artifactKey);
        await repo.markExpired(request.id);
        n += 1;
      }
      return n;
    },

    /**
     * Re-enqueues every unfinished request without a live job: after a Redis flush or restart, a
     * job that exhausted its BullMQ attempts, or a crash between the insert and the enqueue.
     */
    async reconcile(): Promise<number> {
      let requeued = 0;
      for (const request of await repo.unfinished()) {
        const queue = queues.queue(queueOf(request.type));
        const job = await queue.getJob(request.id);
        const state = job ? await job.getState() : 'unknown';
        if (['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'].includes(state)) continue;
        if (job) await job.remove().catch(() => {});
        await enqueue(request);
        requeued += 1;
      }
      return requeued;
    },
  };
}

export type PrivacyService = ReturnType<typeof createPrivacyService>;
