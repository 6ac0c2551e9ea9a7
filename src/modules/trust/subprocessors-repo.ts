// SQL of sub-processors, their announced changes, subscriptions and their outbox messages.
import type { Knex, ListingReads } from '../../platform/db.js';

export interface Subprocessor {
  id: string;
  name: string;
  purpose: string;
  location: string;
  dataCategories: string[];
  effectiveAt: Date;
  removalEffectiveAt: Date | null;
  updatedAt: Date;
}

export interface SubprocessorChange {
  id: string;
  subprocessorId: string;
  name: string;
  kind: 'added' | 'changed' | 'removed';
  summary: string;
  announcedAt: Date;
  effectiveAt: Date;
  announceNoticesAt: Date | null;
  effectiveNoticesAt: Date | null;
}

const fromRow = (r: Record<string, any>): Subprocessor => ({
  id: r.id, name: r.name, purpose: r.purpose, location: r.location, dataCategories: r.data_categories,
  effectiveAt: r.effective_at, removalEffectiveAt: r.removal_effective_at, updatedAt: r.updated_at,
});
const changeFromRow = (r: Record<string, any>): SubprocessorChange => ({
  id: r.id, subprocessorId: r.subprocessor_id, name: r.name, kind: r.kind, summary: r.summary, announcedAt: r.announced_at,
  effectiveAt: r.effective_at, announceNoticesAt: r.announce_notices_at, effectiveNoticesAt: r.effective_notices_at,
});

/** `listings`: the pool of the public lists (list, listChanges), which tolerate replica lag (see ListingReads); staff changes and notices use `db`. */
export function createSubprocessorsRepo(db: Knex, listings: ListingReads) {
  const changes = (from: Knex = db) => from('subprocessor_changes as c').join('subprocessors as s', 's.id', 'c.subprocessor_id').select('c.*', 's.name');

  return {
    async insert(s: Omit<Subprocessor, 'updatedAt' | 'removalEffectiveAt'>, change: { id: string; summary: string }): Promise<Subprocessor> {
      return db.transaction(async (trx) => {
        const [row] = await trx('subprocessors').insert({ id: s.id, name: s.name, purpose: s.purpose, location: s.location, data_categories: s.dataCategories, effective_at: s.effectiveAt }).returning('*');
        await trx('subprocessor_changes').insert({ id: change.id, subprocessor_id: s.id, kind: 'added', summary: change.summary, effective_at: s.effectiveAt });
        return fromRow(row);
      });
    },

    async find(id: string): Promise<Subprocessor | null> {
      const row = await db('subprocessors').where({ id }).first();
      return row ? fromRow(row) : null;
    },

    async update(id: string, fields: Partial<Pick<Subprocessor, 'name' | 'purpose' | 'location' | 'dataCategories'>>, change: { id: string; summary: string; effectiveAt: Date }): Promise<Subprocessor> {
      return db.transaction(async (trx) => {
        const set: Record<string, unknown> = { updated_at: trx.fn.now() };
        if (fields.name !== undefined) set.name = fields.name;
        if (fields.purpose !== undefined) set.purpose = fields.purpose;
        if (fields.location !== undefined) set.location = fields.location;
        if (fields.dataCategories !== undefined) set.data_categories = fields.dataCategories;
        const [row] = await trx('subprocessors').where({ id }).update(set).returning('*');
        await trx('subprocessor_changes').insert({ id: change.id, subprocessor_id: id, kind: 'changed', summary: change.summary, effective_at: change.effectiveAt });
        return fromRow(row);
      });
    },

    async scheduleRemoval(id: string, effectiveAt: Date, change: { id: string; summary: string }): Promise<Subprocessor> {
      return db.transaction(async (trx) => {
        const [row] = await trx('subprocessors').where({ id }).update({ removal_effective_at: effectiveAt, updated_at: trx.fn.now() }).returning('*');
        await trx('subprocessor_changes').insert({ id: change.id, subprocessor_id: id, kind: 'removed', summary: change.summary, effective_at: effectiveAt });
        return fromRow(row);
      });
    },

    async list(): Promise<Subprocessor[]> {
      return (await listings('subprocessors').orderBy('name')).map(fromRow);
    },

    async listChanges(limit = 200): Promise<SubprocessorChange[]> {
      return (await changes(listings).orderBy('c.announced_at', 'desc').orderBy('c.id').limit(limit)).map(changeFromRow);
    },

    async changesToAnnounce(): Promise<SubprocessorChange[]> {
      return (await changes().whereNull('c.announce_notices_at').orderBy('c.announced_at')).map(changeFromRow);
    },

    async changesNowEffective(now: Date): Promise<SubprocessorChange[]> {
      return (await changes().whereNull('c.effective_notices_at').whereNotNull('c.announce_notices_at').where('c.effective_at', '<=', now).orderBy('c.effective_at')).map(changeFromRow);
    },

    /** One outbox message per confirmed subscriber for this change and phase, then marks the phase done. */
    async recordChangeNotices(change: SubprocessorChange, phase: 'announced' | 'effective', subject: string, body: string): Promise<number> {
      return db.transaction(async (trx) => {
        const subscribers = (await trx('trust_subscriptions').where({ state: 'confirmed' }).select('id')).map((r) => r.id as string);
        for (let i = 0; i < subscribers.length; i += 1000) {
          await trx('trust_outbox').insert(subscribers.slice(i, i + 1000).map((id) => ({
            kind: `subprocessor_${phase}`, dedupe_key: `subprocessor-change:${change.id}:${phase}:${id}`, subscription_id: id, subject, body,
          }))).onConflict('dedupe_key').ignore();
        }
        await trx('subprocessor_changes').where({ id: change.id }).update(phase === 'announced' ? { announce_notices_at: trx.fn.now() } : { effective_notices_at: trx.fn.now() });
        return subscribers.length;
      });
    },

    async insertSubscription(s: { id: string; emailHash: Buffer; emailEnc: Buffer; confirmTokenHash: Buffer }, message: { subject: string; body: string; linkEnc: (outboxId: string) => Promise<Buffer> }): Promise<boolean> {
      return db.transaction(async (trx) => {
        const inserted = await trx('trust_subscriptions').insert({ id: s.id, email_hash: s.emailHash, email_enc: s.emailEnc, confirm_token_hash: s.confirmTokenHash }).onConflict('email_hash').ignore().returning('id');
        if (!inserted.length) return false;
        const [outbox] = await trx('trust_outbox').insert({ kind: 'subscription_confirm', dedupe_key: `subscription-confirm:${s.id}`, subscription_id: s.id, subject: message.subject, body: message.body }).returning('id');
        await trx('trust_outbox').where({ id: outbox.id }).update({ link_enc: await message.linkEnc(outbox.id) });
        return true;
      });
    },

    async confirmSubscription(tokenHash: Buffer): Promise<boolean> {
      const rows = await db('trust_subscriptions').where({ confirm_token_hash: tokenHash }).update({ state: 'confirmed', confirmed_at: db.raw('coalesce(confirmed_at, now())') }).returning('id');
      return rows.length > 0;
    },
  };
}

export type SubprocessorsRepo = ReturnType<typeof createSubprocessorsRepo>;
