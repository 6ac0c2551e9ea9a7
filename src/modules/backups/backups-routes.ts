// Handlers keyed by operationId: the ops view of backups (admin and security staff).
import type { RouteTable } from '../../platform/platform.js';
import type { BackupsService } from './backups-service.js';
import type { BackupKind, BackupRun } from './backups-types.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const backupView = (run: BackupRun) => ({
  id: run.id,
  kind: run.kind,
  status: run.status,
  scheduledFor: run.scheduledFor,
  startedAt: run.startedAt.toISOString(),
  finishedAt: iso(run.finishedAt),
  sizeBytes: run.sizeBytes,
  plaintextBytes: run.plaintextBytes,
  ciphertextSha256: run.ciphertextSha256,
  plaintextSha256: run.plaintextSha256,
  error: run.error,
  verification: run.verifiedAt
    ? { status: run.verifyStatus!, verifiedAt: iso(run.verifiedAt)!, durationMs: run.verifyDurationMs!, error: run.verifyError }
    : null,
  deletedAt: iso(run.deletedAt),
});

export function backupsRoutes(backups: BackupsService): RouteTable {
  return {
    listBackups: async (req, res) => {
      const kind = req.query.kind as BackupKind | undefined;
      const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
      res.json({ items: (await backups.list({ kind, limit })).map(backupView) });
    },
  };
}
