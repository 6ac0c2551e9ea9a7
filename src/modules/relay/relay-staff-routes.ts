// Staff routes of the relay: reading the relay log (a stated reason, recorded in the audit trail
// before anything is returned, through the audit service's recordedRead), and operators' provider
// credentials (recorded before they change). User and key ids are pseudonymised for roles that
// do not need to know who made a call; security and dpo (incidents, data-subject requests) see them.
import type { Request } from 'express';
import { requireStaff, type StaffRole } from '../../platform/http/auth.js';
import { pepperedHash } from '../../platform/crypto/hashing.js';
import { BadRequestError, NotFoundError } from '../../platform/http/problem.js';
import type { RouteTable } from '../../platform/platform.js';
import type { AuditService } from '../audit/audit-service.js';
import { requestContext } from '../audit/audit-service.js';
import { accessReason } from '../audit/staff-access-routes.js';
import type { KeyEnvironment } from './api-keys.js';
import type { ProviderCredentials } from './provider-credentials.js';
import { PROVIDERS, type Catalogue, type ProviderName } from './relay-catalogue.js';
import type { RelayRepo } from './relay-repo.js';

export const ROLES_SEEING_USER_IDS: StaffRole[] = ['security', 'dpo'];

type Deps = {
  audit: Pick<AuditService, 'record' | 'recordedRead'>;
  repo: Pick<RelayRepo, 'readLog'>;
  credentials: ProviderCredentials;
  catalogue: Catalogue;
  pepper: Buffer;
};

const encodeCursor = (id: number) => Buffer.from(`r${id}`).toString('base64url');
const decodeCursor = (cursor: unknown) => {
  if (typeof cursor !== 'string' || !cursor) return undefined;
  const match = /^r(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new BadRequestError('cursor is not one this API returned.', [{ field: 'query.cursor', message: 'is invalid' }]);
  return Number(match[1]);
};

export function relayStaffRoutes({ audit, repo, credentials, catalogue, pepper }: Deps): RouteTable {
  const pseudonym = (kind: 'user' | 'key', id: string) => `${kind}-${pepperedHash(pepper, `custos.relay.${kind}-pseudonym\0`, id).toString('hex').slice(0, 12)}`;
  const actorOf = (req: Request) => {
    const staff = requireStaff(req);
    return { staff, actor: { kind: 'staff' as const, staffId: staff.staffId, email: staff.email, role: staff.role } };
  };
  const providerParams = (req: Request) => ({ provider: String(req.params.provider) as ProviderName, environment: String(req.params.environment) as KeyEnvironment });

  return {
    adminReadRelayLog: async (req, res) => {
      const { staff, actor } = actorOf(req);
      const stated = accessReason(req);
      if ('problem' in stated) throw new BadRequestError(stated.problem);
      const userId = req.query.userId as string | undefined;
      const to = req.query.to ? new Date(String(req.query.to)) : new Date();
      const from = req.query.from ? new Date(String(req.query.from)) : new Date(to.getTime() - 7 * 86_400_000);
      const limit = Number(req.query.limit ?? 50);
      const beforeId = decodeCursor(req.query.cursor);
      const seesIds = ROLES_SEEING_USER_IDS.includes(staff.role);
      const rows = await audit.recordedRead({
        actor,
        action: 'admin.relay_log.read',
        outcome: 'allowed',
        subjectUserId: userId ?? null,
        resourceType: 'relay_log',
        resourceIds: userId ? [userId] : [],
        ...stated,
        detail: `from=${from.toISOString()} to=${to.toISOString()} limit=${limit}${beforeId ? ` before=${beforeId}` : ''} ids=${seesIds ? 'visible' : 'pseudonymised'}`,
        ...requestContext(req),
      }, () => repo.readLog({ userId, from, to, beforeId }, limit + 1));
      const page = rows.slice(0, limit);
      res.json({
        userIds: seesIds ? 'visible' : 'pseudonymised',
        items: page.map((r) => ({
          at: r.at.toISOString(),
          user: seesIds ? r.userId : pseudonym('user', r.userId),
          apiKey: seesIds ? r.apiKeyId : pseudonym('key', r.apiKeyId),
          environment: r.environment, provider: r.provider, model: r.model, status: r.status, reason: r.reason,
          inputTokens: r.inputTokens, outputTokens: r.outputTokens, cachedTokens: r.cachedTokens, latencyMs: r.latencyMs,
          costCents: Math.round(r.costMicrocents / 10_000) / 100,
        })),
        nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!.id) : null,
      });
    },

    adminListRelayProviders: async (_req, res) => {
      const sources = await credentials.sources();
      res.json({ items: PROVIDERS.map((p) => ({ provider: p, name: catalogue.providers[p].name, paidTier: catalogue.providers[p].paidTier, credentials: sources[p] })) });
    },

    adminSetRelayProviderCredential: async (req, res) => {
      const { staff, actor } = actorOf(req);
      const { provider, environment } = providerParams(req);
      // Recorded before the change: no credential changes without its trace.
      await audit.record({ actor, action: 'admin.relay.provider_credential.set', outcome: 'allowed', resourceType: 'relay_provider_credential', resourceIds: [], detail: `${provider} ${environment}`, ...requestContext(req) });
      await credentials.store(provider, environment, (req.body as { apiKey: string }).apiKey, staff.staffId);
      res.status(204).end();
    },

    adminDeleteRelayProviderCredential: async (req, res) => {
      const { actor } = actorOf(req);
      const { provider, environment } = providerParams(req);
      await audit.record({ actor, action: 'admin.relay.provider_credential.delete', outcome: 'allowed', resourceType: 'relay_provider_credential', resourceIds: [], detail: `${provider} ${environment}`, ...requestContext(req) });
      if (!(await credentials.remove(provider, environment))) throw new NotFoundError('No credential is stored for this provider and environment.');
      res.status(204).end();
    },
  };
}
