// Wires the audit domain: the trail's service, its readers' routes, the staff support tools,
// the record of denied staff attempts, and the user's share of the data export.
import type { AccessDenial } from '../../platform/http/auth.js';
import { bearerToken } from '../../platform/http/auth.js';
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import { createAuditIntegrity } from './audit-integrity.js';
import { createAuditRepo } from './audit-repo.js';
import { auditRoutes } from './audit-routes.js';
import { createAuditService, requestContext } from './audit-service.js';
import { STAFF_ACCESS_ACTIONS, auditedAccess, auditedSearch, resourceIdsFor, staffAccessRoutes } from './staff-access-routes.js';
import { staffUserDataRoutes, type ChatReads } from './staff-user-data-routes.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerAudit(platform: Platform, accounts: AccountsService, chat: ChatReads) {
  const { config, db, signer, logger } = platform;
  const repo = createAuditRepo(db);
  const integrity = createAuditIntegrity({ repo, signer });
  const service = createAuditService({
    repo,
    integrity,
    pepper: config.apiKeyPepper,
    staffDisplay: config.audit.staffDisplay,
    retentionDays: config.audit.retentionDays,
    onRetentionMismatch: (recorded, configured) => logger.warn({ recorded, configured },
      'CUSTOS_AUDIT_RETENTION_DAYS differs from the retention recorded by the last custos migrate; the recorded one applies (run custos migrate to change it)'),
    onSealError: (error) => logger.warn({ err: { message: error.message } }, 'background audit seal failed; the scheduled seal will retry'),
  });

  /** Denied staff attempts are events too: wrong role, no TOTP, or a missing/invalid reason. */
  async function onDenied(denial: AccessDenial): Promise<void> {
    const { req } = denial;
    let principal = denial.principal;
    if (denial.reason === 'invalid_request') {
      // Refused by the request validator (a missing or invalid reason): only staff-access routes
      // count; the principal is the one authentication admitted, else the staff session's owner.
      if (!STAFF_ACCESS_ACTIONS[denial.operationId]) return;
      const token = bearerToken(req);
      principal ??= (token && (await accounts.resolveSession('staff', token))) || undefined;
    }
    if (principal?.kind !== 'staff') return;
    // Denials happen in middleware, before Express matched the route: path parameters come from
    // the validator's match of the OpenAPI path.
    const pathParams = (req as unknown as { openapi?: { pathParams?: Record<string, string> } }).openapi?.pathParams ?? req.params;
    const userId = typeof pathParams?.userId === 'string' && uuid.test(pathParams.userId) ? pathParams.userId : null;
    const reason = req.get('x-access-reason');
    try {
      await service.record({
        actor: { kind: 'staff', staffId: principal.staffId, email: principal.email, role: principal.role },
        action: STAFF_ACCESS_ACTIONS[denial.operationId]?.action ?? denial.operationId,
        outcome: 'denied',
        subjectUserId: userId,
        resourceType: STAFF_ACCESS_ACTIONS[denial.operationId]?.resourceType ?? null,
        resourceIds: resourceIdsFor(denial.operationId, pathParams),
        reason: reason?.slice(0, 64) ?? null,
        justification: req.get('x-access-justification')?.slice(0, 500) || null,
        detail: `denied: ${denial.reason}`,
        ...requestContext(req),
      });
    } catch (error) {
      // The request is refused either way; a lost denial record is an operational alarm.
      logger.error({ err: { message: (error as Error).message }, operationId: denial.operationId }, 'could not record a denied staff attempt');
    }
  }

  const audited = auditedAccess(service);
  const registration: ModuleRegistration = {
    name: 'audit',
    routes: { ...auditRoutes(service), ...staffAccessRoutes(audited, auditedSearch(service, accounts), accounts), ...staffUserDataRoutes(audited, accounts, chat) },
    onDenied,
    personalData: {
      collections: [{
        name: 'staff_access_log',
        description: 'Every staff access to your account: when, the staff role and pseudonym, the reason and what was accessed.',
        rows: (userId) => service.accessLogForExport(userId),
      }],
    },
  };
  return { service, registration };
}
