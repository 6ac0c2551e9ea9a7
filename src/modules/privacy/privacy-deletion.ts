// Erasure of one account (GDPR Art. 17). Rows go first, table by table in repeatable batches
// whose counts are recorded with each batch; then what modules keep outside PostgreSQL; then, in
// one transaction, the users row, the data key (crypto-shredding: every ciphertext left anywhere,
// backups included, becomes unreadable), the tombstone and the signed receipt.
import { pepperedHash } from '../../platform/crypto/hashing.js';
import type { Platform, ModuleRegistration } from '../../platform/platform.js';
import type { HeldLease } from '../../platform/lease.js';
import { FIRST_TID, type Lease, type PrivacyRepo } from './privacy-repo.js';
import type { DeletionReceipt, PrivacyRequest } from './privacy-types.js';

export const RETAINED_STATEMENT = [
  'Entries of the staff-access audit trail about this account are kept under the pseudonymous account id above, which no longer links to any name or email: they prove who accessed the data and why (GDPR Art. 17(3)(b) and (e), accountability under Art. 5(2)).',
  'This deletion request and this receipt, so the erasure can be proved.',
  'A tombstone: a keyed hash (HMAC-SHA256) of the email address, the times and the row counts above.',
];

type Deps = {
  repo: PrivacyRepo;
  platform: Pick<Platform, 'keyStore' | 'signer' | 'artifacts' | 'config' | 'logger'>;
  modules: () => ModuleRegistration[];
};

export const exportPrefix = (userId: string) => `exports/${userId}/`;

export function createDeletionRunner({ repo, platform, modules }: Deps) {
  const { keyStore, signer, artifacts, config } = platform;

  /**
   * Cancels the user's exports, then waits until none of their workers holds a live lease: a
   * cancelled export can no longer publish, and once its worker has stopped (or its lease ran
   * out after a crash) nothing writes under the user's export prefix any more, so the listing
   * below sees every file, temporary ones included.
   */
  async function stopExports(userId: string, lease: Lease, held: HeldLease): Promise<void> {
    await repo.cancelExportsOf(userId);
    const deadline = Date.now() + lease.ms * 2;
    while ((await repo.liveExportLeases(userId)) > 0) {
      held.assertHeld();
      if (Date.now() > deadline) throw new Error('an export of this account is still running; the deletion retries');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return async function runDeletion(request: PrivacyRequest, lease: Lease, held: HeldLease): Promise<DeletionReceipt> {
    const userId = request.userId;
    await repo.mergeProgress(request.id, { phase: 'exports' });
    await stopExports(userId, lease, held);
    // Small batches with a pause between them: other users' queries wait at most one short
    // batch, and the pause hands them the CPU and disk (CUSTOS_DELETION_BATCH_ROWS/_PAUSE_MS).
    const { deletionBatchRows: batchRows, deletionPauseMs: pauseMs } = config.privacy;
    await repo.mergeProgress(request.id, { phase: 'rows' });
    const refs = await repo.userReferences();
    for (const ref of refs) {
      // Passes in ctid order. A pass can skip rows (an index plan returns them out of ctid order,
      // or a row landed behind the cursor), so it ends only when a pass from the start finds
      // fewer than a batch: then that batch took everything left.
      let after = FIRST_TID;
      for (;;) {
        const { n, last } = await repo.deleteBatch(request.id, lease, ref, userId, batchRows, after);
        if (n < batchRows) {
          if (after === FIRST_TID) break;
          after = FIRST_TID;
          continue;
        }
        after = last;
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }

    await repo.mergeProgress(request.id, { phase: 'artifacts' });
    let erased = request.progress.artifacts ?? 0;
    for (const module of modules()) {
      const erase = module.personalData?.eraseArtifacts;
      if (erase) erased += await erase(userId);
    }
    held.assertHeld();
    for (const object of await artifacts.list(exportPrefix(userId), { includePartials: true })) {
      if (await artifacts.delete(object.key)) erased += 1;
    }
    await repo.mergeProgress(request.id, { phase: 'finalising', artifacts: erased });

    return repo.transaction(async (trx) => {
      const current = (await repo.findById(request.id))!;
      const email = await repo.findUserEmail(userId, trx);
      const exportRequests = await repo.deleteExportRequests(userId, trx);
      const users = await repo.deleteUser(userId, trx);
      const keyDestroyed = await keyStore.destroySubjectKey(userId, trx);
      // Verification inside the same transaction: what commits is what was checked.
      const tables: Record<string, number> = {};
      for (const ref of refs) tables[`${ref.table}.${ref.column}`] = await repo.countRows(ref, userId, trx);
      tables['users.id'] = (await trx('users').where({ id: userId }).count<{ n: number }[]>('* as n'))[0].n;
      tables['privacy_requests.user_id(export)'] = (await trx('privacy_requests').where({ user_id: userId, type: 'export' }).count<{ n: number }[]>('* as n'))[0].n;
      tables['keystore.data_keys.subject_id'] = (await trx.withSchema('keystore').table('data_keys').where({ subject_id: userId }).count<{ n: number }[]>('* as n'))[0].n;
      const leftoverArtifacts = (await artifacts.list(exportPrefix(userId), { includePartials: true })).length;
      const deletedRows: Record<string, number> = { ...(current.progress.counts ?? {}) };
      deletedRows['privacy_requests.user_id(export)'] = exportRequests;
      deletedRows['users.id'] = (deletedRows['users.id'] ?? 0) + users;
      const completedAt = new Date();
      const receipt: DeletionReceipt = {
        version: 1,
        requestId: request.id,
        subject: userId,
        requestedAt: request.createdAt.toISOString(),
        scheduledFor: request.scheduledFor?.toISOString() ?? null,
        completedAt: completedAt.toISOString(),
        deletedRows,
        deletedArtifacts: erased,
        dataKeyDestroyed: keyDestroyed || tables['keystore.data_keys.subject_id'] === 0,
        verification: {
          checkedAt: completedAt.toISOString(),
          tables,
          passed: Object.values(tables).every((n) => n === 0) && leftoverArtifacts === 0,
        },
        retained: RETAINED_STATEMENT,
      };
      if (!receipt.verification.passed) throw new Error('deletion verification found remaining rows');
      const text = JSON.stringify(receipt);
      if (email !== null) {
        await repo.insertTombstone(trx, {
          userId, requestId: request.id, emailHash: pepperedHash(config.apiKeyPepper, 'deleted-account-email|', email),
          requestedAt: request.createdAt, rowCounts: deletedRows,
        });
      }
      await repo.completeDeletion(trx, request.id, lease, text, signer.sign(text));
      return receipt;
    });
  };
}
