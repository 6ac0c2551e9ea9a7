// Sub-processors and their change notices. Every staff change is recorded in the audit trail
// before it is made and announced as a change with its effective date; notices go to confirmed
// subscribers through the outbox twice: when a change is announced and when it takes effect.
import { randomUUID } from 'node:crypto';
import type { FieldCipher } from '../../platform/crypto/field-cipher.js';
import { pepperedHash, randomToken, sha256 } from '../../platform/crypto/hashing.js';
import { BadRequestError, NotFoundError } from '../../platform/http/problem.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Subprocessor, SubprocessorChange, SubprocessorsRepo } from './subprocessors-repo.js';
import type { AuditContext } from './vulnerability-service.js';

const CONFIRM_TOKEN_PREFIX = 'cts_';

type Deps = {
  repo: SubprocessorsRepo;
  audit: Pick<AuditService, 'record'>;
  fieldCipher: Pick<FieldCipher, 'encryptText'>;
  pepper: Buffer;
  noticeDays: number;
  publicUrl?: string;
};

export type SubprocessorInput = { name: string; purpose: string; location: string; dataCategories: string[]; effectiveAt?: Date };

export function createSubprocessorService({ repo, audit, fieldCipher, pepper, noticeDays, publicUrl }: Deps) {
  const base = publicUrl?.replace(/\/+$/, '') ?? '';
  const defaultEffective = (now = new Date()) => new Date(now.getTime() + noticeDays * 86_400_000);
  const record = (context: AuditContext, action: string, id: string, detail: string) =>
    audit.record({ ...context, action, outcome: 'allowed', resourceType: 'subprocessor', resourceIds: [id], detail });
  const find = async (id: string) => {
    const s = await repo.find(id);
    if (!s) throw new NotFoundError('No such sub-processor.');
    return s;
  };
  const noticeDaysOf = (c: Pick<SubprocessorChange, 'announcedAt' | 'effectiveAt'>) => Math.max(0, Math.round((c.effectiveAt.getTime() - c.announcedAt.getTime()) / 86_400_000));

  return {
    noticeDays,
    noticeDaysOf,

    /** Current sub-processors (in effect, not yet removed) and the announced changes still ahead. */
    async publicList(now = new Date()) {
      const all = await repo.list();
      const current = all.filter((s) => s.effectiveAt <= now && !(s.removalEffectiveAt && s.removalEffectiveAt <= now));
      const upcoming = (await repo.listChanges()).filter((c) => c.effectiveAt > now).sort((a, b) => a.effectiveAt.getTime() - b.effectiveAt.getTime());
      return { current, upcoming, byId: new Map(all.map((s) => [s.id, s])) };
    },

    changes: (limit?: number) => repo.listChanges(limit),

    async add(input: SubprocessorInput, context: AuditContext): Promise<Subprocessor> {
      const id = randomUUID();
      const effectiveAt = input.effectiveAt ?? defaultEffective();
      await record(context, 'trust.subprocessor.add', id, `${input.name}, effective ${effectiveAt.toISOString()}`);
      return repo.insert({ id, name: input.name, purpose: input.purpose, location: input.location, dataCategories: input.dataCategories, effectiveAt }, { id: randomUUID(), summary: `New sub-processor ${input.name} (${input.location}) for ${input.purpose}.` });
    },

    async update(id: string, fields: Partial<SubprocessorInput>, context: AuditContext): Promise<Subprocessor> {
      const before = await find(id);
      const changed = (['name', 'purpose', 'location', 'dataCategories'] as const).filter((k) => fields[k] !== undefined && JSON.stringify(fields[k]) !== JSON.stringify(before[k]));
      if (!changed.length) throw new BadRequestError('Nothing to change: give at least one of name, purpose, location, dataCategories with a new value.');
      await record(context, 'trust.subprocessor.update', id, `changed ${changed.join(', ')}`);
      return repo.update(id, fields, { id: randomUUID(), summary: `${before.name}: ${changed.join(', ')} changed.`, effectiveAt: new Date() });
    },

    /** Announces the removal; it takes effect after the notice period (or at `effectiveAt`). */
    async remove(id: string, effectiveAt: Date | undefined, context: AuditContext): Promise<Subprocessor> {
      const before = await find(id);
      const at = effectiveAt ?? defaultEffective();
      await record(context, 'trust.subprocessor.remove', id, `removal effective ${at.toISOString()}`);
      return repo.scheduleRemoval(id, at, { id: randomUUID(), summary: `${before.name} will no longer process data.` });
    },

    /** Double opt-in: a pending subscription and its confirmation message; the same answer whether or not the address is new. */
    async subscribe(email: string): Promise<void> {
      const id = randomUUID();
      const token = randomToken(CONFIRM_TOKEN_PREFIX);
      const normalized = email.trim().toLowerCase();
      await repo.insertSubscription(
        { id, emailHash: pepperedHash(pepper, 'custos.trust.subscriber\0', normalized), emailEnc: await fieldCipher.encryptText(id, { table: 'trust_subscriptions', column: 'email_enc', rowId: id }, normalized), confirmTokenHash: sha256(token) },
        {
          subject: 'Confirm your subscription to sub-processor changes',
          body: 'Someone (hopefully you) asked to be told about changes to our sub-processors. Confirm with the link below; ignore this message otherwise.',
          linkEnc: (outboxId) => fieldCipher.encryptText(id, { table: 'trust_outbox', column: 'link_enc', rowId: outboxId }, `${base}/api/v1/trust/subscriptions/confirm/${token}`),
        },
      );
    },

    async confirm(token: string): Promise<void> {
      const ok = token.startsWith(CONFIRM_TOKEN_PREFIX) && (await repo.confirmSubscription(sha256(token)));
      if (!ok) throw new NotFoundError('This confirmation link is not valid.');
    },

    /** The notice job: announcement notices for new changes, then effective notices for changes now in force. Repeatable. */
    async sendNotices(now = new Date()): Promise<{ announced: number; effective: number }> {
      let announced = 0;
      let effective = 0;
      for (const change of await repo.changesToAnnounce()) {
        announced += await repo.recordChangeNotices(change, 'announced', `Sub-processor change announced: ${change.name}`,
          `${change.summary} Effective ${change.effectiveAt.toISOString()} (${noticeDaysOf(change)} days' notice).`);
      }
      for (const change of await repo.changesNowEffective(now)) {
        effective += await repo.recordChangeNotices(change, 'effective', `Sub-processor change in effect: ${change.name}`, `${change.summary} In effect since ${change.effectiveAt.toISOString()}.`);
      }
      return { announced, effective };
    },
  };
}

export type SubprocessorService = ReturnType<typeof createSubprocessorService>;
