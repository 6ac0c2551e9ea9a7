// Settled calls are written to PostgreSQL in batches, off the response path: a settlement joins
// the queue, and the queue is written as one statement (relay-repo.ts settleBatch) every
// INTERVAL_MS, or at once when MAX_BATCH settlements wait. One batch is written at a time per
// process, so under load batches grow instead of competing for connections.
//
// Durability: what is queued lives in this process's memory until its batch commits, so a crash
// (SIGKILL, OOM, power) loses the log rows, usage, ledger spend and credit charges of the calls
// settled in the last INTERVAL_MS plus the batch being written. Spending limits still hold: the
// Redis counter is settled at once (not batched), and it is what admits or refuses calls; only
// if Redis loses its counter too is it re-seeded from a ledger missing those calls. A graceful
// stop (SIGTERM: container.close) writes every queued settlement first.
import type { Logger } from '../../platform/logger.js';
import type { NewTransaction } from '../chat/chat-types.js';
import type { RelayRepo } from './relay-repo.js';
import type { RelayLogEntry } from './relay-types.js';

export const SETTLEMENT_INTERVAL_MS = 25;
const MAX_BATCH = 500;

type Deps = {
  repo: Pick<RelayRepo, 'settleBatch' | 'restoreCarry'>;
  ledger: { recordTransaction(userId: string, input: NewTransaction): Promise<unknown> };
  currency: string;
  logger: Pick<Logger, 'warn' | 'error'>;
};

/**
 * Charges whole cents due from the sub-cent carry to the user's credit ledger; if the ledger
 * write fails, the cents go back to the carry for the next settlement (relay calls and chats).
 */
function ledgerCharger({ repo, ledger, currency, logger }: Deps) {
  return async (userId: string, dueCents: number, description: string): Promise<void> => {
    if (dueCents <= 0) return;
    try {
      await ledger.recordTransaction(userId, { kind: 'usage', amountCents: dueCents, currency, description });
    } catch (error) {
      await repo.restoreCarry(userId, dueCents).catch(() => {});
      logger.error({ err: { message: (error as Error).message } }, `${description}: could not be charged to the credit ledger; kept for the next settlement`);
    }
  };
}

export function createSettlementWriter({ repo, ledger, currency, logger }: Deps) {
  const charge = ledgerCharger({ repo, ledger, currency, logger });
  let queue: Array<{ entry: RelayLogEntry; done: () => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  let written: Promise<void> = Promise.resolve();

  async function write(entries: RelayLogEntry[]): Promise<void> {
    let due: Array<{ userId: string; dueCents: number }>;
    try {
      due = await repo.settleBatch(entries);
    } catch (batchError) {
      // One bad row (its account erased meanwhile) must not lose the others: one by one.
      due = [];
      for (const entry of entries) {
        try {
          due.push(...await repo.settleBatch([entry]));
        } catch (error) {
          logger.error({ err: { message: (error as Error).message }, batch: { message: (batchError as Error).message } }, 'relay: a call could not be settled');
        }
      }
    }
    for (const { userId, dueCents } of due) await charge(userId, dueCents, 'API relay usage');
  }

  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (queue.length) {
      const batch = queue;
      queue = [];
      written = written.then(() => write(batch.map((b) => b.entry))).catch(() => {}).then(() => { for (const b of batch) b.done(); });
    }
    return written;
  }

  return {
    /** The same charge for usage that did not come through a relay key (chats). */
    charge,
    /** Queues a settled call; resolves once it is written (or could not be). */
    add(entry: RelayLogEntry): Promise<void> {
      return new Promise((done) => {
        queue.push({ entry, done });
        if (queue.length >= MAX_BATCH) void flush();
        else timer ??= setTimeout(flush, SETTLEMENT_INTERVAL_MS);
      });
    },
    /** Writes everything queued so far; resolves when it is written. */
    flush,
  };
}

export type SettlementWriter = ReturnType<typeof createSettlementWriter>;
