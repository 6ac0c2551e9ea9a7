// Authorization lives here and only here. Each operation's OpenAPI `security` (or the document's
// default) names the principals it admits; `x-custos-roles` narrows staff operations to roles.
// An operation that admits nobody explicitly is denied: the document's default requires a user
// session, and public operations must say `security: []`.
import type { NextFunction, Request, Response } from 'express';
import type { OpenApiDocument, OperationObject } from './openapi.js';
import { ForbiddenError, UnauthorizedError } from './problem.js';

export type StaffRole = 'support' | 'dpo' | 'security' | 'admin';
export const STAFF_ROLES: StaffRole[] = ['support', 'dpo', 'security', 'admin'];

/**
 * `secondFactorProved`: this session presented a TOTP or recovery code (at login or by confirming
 * enrolment), not just the account having 2FA on. Sessions never inherit a factor proved elsewhere.
 */
export type Principal =
  | { kind: 'user'; userId: string; sessionId: string; email: string; pendingDeletion?: boolean; twoFactorEnabled: boolean; secondFactorProved: boolean }
  | { kind: 'staff'; staffId: string; sessionId: string; email: string; role: StaffRole; totpConfirmed: boolean; secondFactorProved: boolean }
  | { kind: 'apiKey'; apiKeyId: string; userId: string }
  /** Holder of CUSTOS_METRICS_TOKEN: admitted to GET /metrics only. */
  | { kind: 'metricsScraper' };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    requestId: string;
    /** operationId whose access rule admitted this request (set before body validation). */
    authorizedOperationId?: string;
  }
}

/** Resolves a bearer token for one security scheme; null when the token is not of that kind. */
export type SchemeResolver = (token: string, req: Request) => Promise<Principal | null>;

/** Why a staff member was turned away, for the audit trail (denied attempts are events too). */
export interface AccessDenial {
  req: Request;
  principal?: Principal;
  operationId: string;
  /** invalid_request: admitted, then refused by the request validator (e.g. a staff read without X-Access-Reason). */
  reason: 'role' | 'totp_required' | 'unauthenticated' | 'invalid_request';
}

export interface AuthorizationOptions {
  document: OpenApiDocument;
  schemes: Record<string, SchemeResolver>;
  onDenied?: (denial: AccessDenial) => Promise<void> | void;
}

export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * Two middlewares, both reading the operation `resolveOperation` matched. `authenticate` runs BEFORE request validation, so a caller without a valid
 * token learns nothing about a route's schema and always gets 401 (not 400). `ensureAuthorized`
 * runs after the validator and denies any request whose validated operation was not the one
 * admitted: a route without an access rule can never be reached.
 */
export function createAuthorization({ document, schemes, onDenied }: AuthorizationOptions) {
  const defaultSecurity = document.security ?? [{ userSession: [] }];

  // Whether an operation admits anonymous callers, decided once per operation.
  const anonymous = new Map<OperationObject, boolean>();
  const admitsAnonymous = (operation: OperationObject) => {
    let known = anonymous.get(operation);
    if (known === undefined) {
      const requirements = operation.security ?? defaultSecurity;
      anonymous.set(operation, (known = requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0)));
    }
    return known;
  };

  // Not async for a public operation: it goes on at once, without a promise (issue 15).
  function authorize(operation: OperationObject, req: Request, next: NextFunction) {
    if (admitsAnonymous(operation)) {
      req.authorizedOperationId = operation.operationId;
      return next();
    }
    return authorizeBearer(operation, req, next);
  }

  async function authorizeBearer(operation: OperationObject, req: Request, next: NextFunction) {
    const requirements = operation.security ?? defaultSecurity;
    const token = bearerToken(req);
    if (!token) return next(new UnauthorizedError());

    let principal: Principal | null = null;
    for (const requirement of requirements) {
      for (const scheme of Object.keys(requirement)) {
        const resolve = schemes[scheme];
        if (!resolve) return next(new ForbiddenError(`Access scheme ${scheme} is not configured, so this route is denied.`));
        principal = await resolve(token, req);
        if (principal) break;
      }
      if (principal) break;
    }
    if (!principal) {
      return next(new UnauthorizedError('The bearer token is invalid, expired or not accepted by this route.'));
    }

    const deny = async (reason: AccessDenial['reason'], detail: string) => {
      await onDenied?.({ req, principal: principal!, operationId: operation.operationId!, reason });
      return next(new ForbiddenError(detail));
    };

    if (principal.kind === 'staff') {
      // TOTP is mandatory for staff, and it is the session that must have presented it: a
      // session opened before enrolment never gains staff access from a confirmation elsewhere.
      const allowsUnconfirmed = requirements.some((r) => 'staffEnrolment' in r);
      if (!principal.secondFactorProved && !allowsUnconfirmed) {
        return deny('totp_required', principal.totpConfirmed
          ? 'This session was opened without a TOTP code; log in again with your code (POST /api/v1/staff/auth/login).'
          : 'Staff must enrol and confirm TOTP (POST /api/v1/staff/me/2fa/totp) before using any other staff route.');
      }
      const roles = operation['x-custos-roles'];
      if (roles && !roles.includes(principal.role)) {
        return deny('role', `This route needs one of the roles ${roles.join(', ')}; yours is ${principal.role}.`);
      }
    }
    // A user who turned 2FA on is protected by it on every route, sessions from before included.
    if (principal.kind === 'user' && principal.twoFactorEnabled && !principal.secondFactorProved) {
      return next(new UnauthorizedError('This session was opened before two-factor authentication was turned on; log in again with your code.'));
    }
    // GDPR Art. 17 grace period: an account awaiting erasure may only look at or cancel it.
    if (principal.kind === 'user' && principal.pendingDeletion && operation['x-custos-allow-pending-deletion'] !== true) {
      return next(new ForbiddenError('Your account is scheduled for deletion. Cancel with DELETE /api/v1/me/deletion to use it again.'));
    }
    req.principal = principal;
    req.authorizedOperationId = operation.operationId;
    return next();
  }

  // The operation was resolved once (operation-matcher.ts); a request that reached here without
  // one is denied rather than waved through.
  function authenticate(req: Request, _res: Response, next: NextFunction) {
    const match = req.operationMatch;
    if (!match) return next(new ForbiddenError('This route has no access rule, so it is denied.'));
    // Denial observers (the audit trail) record the resource ids from the path; Express resets
    // req.params for every middleware, so they are set again here.
    req.params = match.params;
    return authorize(match.operation.operation, req, next);
  }

  function ensureAuthorized(req: Request, _res: Response, next: NextFunction) {
    const operation = (req as unknown as { openapi?: { schema?: OperationObject } }).openapi?.schema;
    if (!operation?.operationId || operation.operationId !== req.authorizedOperationId) {
      return next(new ForbiddenError('This route has no access rule, so it is denied.'));
    }
    return next();
  }

  return { authenticate, ensureAuthorized };
}

export function requireUser(req: Request): Extract<Principal, { kind: 'user' }> {
  if (req.principal?.kind !== 'user') throw new UnauthorizedError();
  return req.principal;
}

export function requireStaff(req: Request): Extract<Principal, { kind: 'staff' }> {
  if (req.principal?.kind !== 'staff') throw new UnauthorizedError();
  return req.principal;
}
