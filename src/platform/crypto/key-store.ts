// The key store: one data key (DEK) per subject (a user, a staff member, or the service itself),
// wrapped by a versioned master key (KEK) that lives only in configuration. It sits in its own
// schema (`keystore`) so it can be backed up apart from the data with a shorter retention:
// destroying a DEK here crypto-shreds every copy of that subject's ciphertext, backups included.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Knex } from '../db.js';
import { DecryptionError, open, seal } from './aead.js';

export const SERVICE_SUBJECT_ID = '00000000-0000-0000-0000-000000000000';

export class DataKeyDestroyedError extends DecryptionError {
  constructor() {
    super('the data key of this ciphertext was destroyed (crypto-shredded)');
    this.name = 'DataKeyDestroyedError';
  }
}

export interface DataKey {
  id: string;
  subjectId: string;
  key: Buffer;
}

interface CachedKey {
  key: DataKey;
  expiresAt: number;
}

const wrapAssociatedData = (keyId: string, subjectId: string) => Buffer.from(`custos:dek:v1|${keyId}|${subjectId}`);

export interface KeyStoreOptions {
  masterKeys: Map<number, Buffer>;
  /** Unwrapped keys are cached in process memory this long; a destroyed key is evicted at once here and expires elsewhere. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
}

export function createKeyStore(db: Knex, options: KeyStoreOptions) {
  const currentVersion = Math.max(...options.masterKeys.keys());
  const ttl = options.cacheTtlMs ?? 60_000;
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  const byId = new Map<string, CachedKey>();
  const idBySubject = new Map<string, string>();

  const masterKey = (version: number) => {
    const kek = options.masterKeys.get(version);
    if (!kek) throw new DecryptionError(`master key version ${version} is not configured`);
    return kek;
  };

  function remember(key: DataKey) {
    if (byId.size >= maxEntries) {
      const oldest = byId.keys().next().value as string;
      const evicted = byId.get(oldest);
      byId.delete(oldest);
      if (evicted) idBySubject.delete(evicted.key.subjectId);
    }
    byId.set(key.id, { key, expiresAt: Date.now() + ttl });
    idBySubject.set(key.subjectId, key.id);
  }

  function cached(id: string | undefined): DataKey | undefined {
    if (!id) return undefined;
    const entry = byId.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt < Date.now()) {
      byId.delete(id);
      idBySubject.delete(entry.key.subjectId);
      return undefined;
    }
    return entry.key;
  }

  function unwrap(row: { id: string; subject_id: string; kek_version: number; wrapped_key: Buffer }): DataKey {
    const key = open(masterKey(row.kek_version), row.wrapped_key, wrapAssociatedData(row.id, row.subject_id));
    const dataKey = { id: row.id, subjectId: row.subject_id, key };
    remember(dataKey);
    return dataKey;
  }

  const table = () => db.withSchema('keystore').table('data_keys');

  return {
    currentVersion,

    /** The subject's data key, created on first use. */
    async keyForSubject(subjectId: string): Promise<DataKey> {
      const hit = cached(idBySubject.get(subjectId));
      if (hit) return hit;
      const existing = await table().where({ subject_id: subjectId }).first();
      if (existing) return unwrap(existing);
      const id = randomUUID();
      const key = randomBytes(32);
      const wrapped = seal(masterKey(currentVersion), key, wrapAssociatedData(id, subjectId));
      const [row] = await db.raw(
        `INSERT INTO keystore.data_keys (id, subject_id, kek_version, wrapped_key) VALUES (?, ?, ?, ?)
         ON CONFLICT (subject_id) DO UPDATE SET subject_id = EXCLUDED.subject_id RETURNING *`,
        [id, subjectId, currentVersion, wrapped],
      ).then((r: { rows: unknown[] }) => r.rows as Array<{ id: string; subject_id: string; kek_version: number; wrapped_key: Buffer }>);
      return unwrap(row);
    },

    async keyById(id: string): Promise<DataKey> {
      const hit = cached(id);
      if (hit) return hit;
      const row = await table().where({ id }).first();
      if (!row) throw new DataKeyDestroyedError();
      return unwrap(row);
    },

    /** Crypto-shredding: after this, nothing encrypted for the subject can be read again. */
    async destroySubjectKey(subjectId: string, trx: Knex = db): Promise<boolean> {
      const id = idBySubject.get(subjectId);
      if (id) byId.delete(id);
      idBySubject.delete(subjectId);
      const deleted = await trx.withSchema('keystore').table('data_keys').where({ subject_id: subjectId }).delete();
      return deleted > 0;
    },

    async hasKey(subjectId: string): Promise<boolean> {
      return Boolean(await table().where({ subject_id: subjectId }).first('id'));
    },

    /** How many keys are still wrapped by an older master key. */
    async countStale(): Promise<{ stale: number; total: number }> {
      const [row] = await table().select(
        db.raw('count(*) FILTER (WHERE kek_version < ?)::int AS stale', [currentVersion]),
        db.raw('count(*)::int AS total'),
      );
      return row as { stale: number; total: number };
    },

    /** Data keys per master-key version, e.g. { 1: 0, 2: 1200 } (versions with no key are absent). */
    async countByVersion(): Promise<Map<number, number>> {
      const rows = await table().select('kek_version').count({ n: '*' }).groupBy('kek_version') as Array<{ kek_version: number; n: number | string }>;
      return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
    },

    /**
     * Re-wraps one batch of keys under the newest master key. Resumable: each batch commits on
     * its own and only touches rows still on an older version, so a crash loses nothing and a
     * second operator running it at once does no harm. Reads keep working throughout because
     * every old master key stays configured until the operator retires it.
     */
    async rewrapBatch(batchSize = 500): Promise<number> {
      return db.transaction(async (trx) => {
        const rows = await trx.withSchema('keystore').table('data_keys')
          .where('kek_version', '<', currentVersion).orderBy('id').limit(batchSize).forUpdate().skipLocked();
        for (const row of rows) {
          const key = open(masterKey(row.kek_version), row.wrapped_key, wrapAssociatedData(row.id, row.subject_id));
          await trx.withSchema('keystore').table('data_keys').where({ id: row.id }).update({
            kek_version: currentVersion,
            wrapped_key: seal(masterKey(currentVersion), key, wrapAssociatedData(row.id, row.subject_id)),
            rewrapped_at: trx.fn.now(),
          });
        }
        return rows.length;
      });
    },

    /**
     * Whether the configured master keys are the ones this database's data keys were wrapped
     * with: one data key per master key version in use is unwrapped (the versions are found by a
     * skip scan over the kek_version index, so this costs a few queries at any size).
     */
    async checkMasterKeys(): Promise<{ versionsInUse: number[]; unopened: Array<{ version: number; reason: 'not configured' | 'does not unwrap' }> }> {
      const { rows } = await db.raw(`WITH RECURSIVE v AS (
          SELECT min(kek_version) AS version FROM keystore.data_keys
          UNION ALL SELECT (SELECT min(kek_version) FROM keystore.data_keys WHERE kek_version > v.version) FROM v WHERE v.version IS NOT NULL)
        SELECT k.* FROM v CROSS JOIN LATERAL (SELECT id, subject_id, kek_version, wrapped_key FROM keystore.data_keys
          WHERE kek_version = v.version LIMIT 1) k ORDER BY k.kek_version`);
      const unopened: Array<{ version: number; reason: 'not configured' | 'does not unwrap' }> = [];
      for (const row of rows as Array<{ id: string; subject_id: string; kek_version: number; wrapped_key: Buffer }>) {
        const kek = options.masterKeys.get(row.kek_version);
        if (!kek) {
          unopened.push({ version: row.kek_version, reason: 'not configured' });
          continue;
        }
        try {
          open(kek, row.wrapped_key, wrapAssociatedData(row.id, row.subject_id));
        } catch {
          unopened.push({ version: row.kek_version, reason: 'does not unwrap' });
        }
      }
      return { versionsInUse: rows.map((r: { kek_version: number }) => r.kek_version), unopened };
    },

    clearCache() {
      byId.clear();
      idBySubject.clear();
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
