// Sessions that can never be used again (revoked, past their absolute expiry, or idle past the
// idle limit) are deleted on a schedule instead of staying until the account goes: each row
// holds a token hash and the encrypted IP and user agent of a login, which is personal data with
// no purpose left (GDPR Art. 5(1)(e), storage limitation). Batches keep each transaction short.
import type { AccountsRepo } from './accounts-repo.js';

export const SESSION_PURGE_BATCH = 1000;

type Deps = {
  repo: Pick<AccountsRepo, 'deleteDeadSessions'>;
  session: { idleMinutes: number; purgeAfterMinutes: number };
  batchSize?: number;
  /** Pause between batches, leaving the database to logins. */
  pauseMs?: number;
};

export function createSessionPurge({ repo, session, batchSize = SESSION_PURGE_BATCH, pauseMs = 20 }: Deps) {
  return {
    /** Deletes every dead session, batch by batch; returns how many rows and batches. */
    async purgeDeadSessions(): Promise<{ deleted: number; batches: number }> {
      let deleted = 0;
      let batches = 0;
      for (;;) {
        const n = await repo.deleteDeadSessions({ graceMinutes: session.purgeAfterMinutes, idleMinutes: session.idleMinutes, batchSize });
        batches += 1;
        deleted += n;
        if (n < batchSize) return { deleted, batches };
        if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    },
  };
}
