// express-openapi-validator, fed the operation that operation-matcher.ts already resolved.
// The validator's own metadata step walks every route and compiles each one's path-to-regexp on
// every request (openapi.metadata.js lookupRoute), which the profile showed as the single largest
// platform cost (issue 15). Its request and response validation (ajv, compiled once per
// operation and cached) is kept as it is: every request is still validated against the spec.
import type { IncomingMessage } from 'node:http';
import * as OpenApiValidator from 'express-openapi-validator';
import type { BoundOperation, OpenApiDocument } from './openapi.js';
import { inSequence, type Handler } from './sequence.js';

type Options = Parameters<typeof OpenApiValidator.middleware>[0];
interface ValidatorContext { apiDoc: OpenApiDocument; serial: number }
interface ValidatorInternals {
  metadataMiddleware: (context: ValidatorContext, responseApiDoc?: OpenApiDocument) => Handler;
  requestValidationMiddleware?: (apiDoc: OpenApiDocument) => Handler;
}

// Steps that do nothing here: security (validateSecurity is off; auth.ts decides access) and
// path params (they coerce params of Express routes, and operations are not Express routes).
// If a new version renames them, they are merely kept, which is slower but still correct.
const idleSteps = new Set(['securityMiddleware', 'pathParamsMiddleware']);

/** Whether a request carries a body: without Content-Length or Transfer-Encoding it has none (RFC 9112 §6.3). */
export const hasBody = (req: IncomingMessage) => req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;

export function createRequestValidation(options: Options): Handler {
  const middlewares = OpenApiValidator.middleware(options) as unknown as Handler[];
  // The instance the library just built; its metadata step is private, hence the cast. If a new
  // version renames it, fail at start-up rather than run with unknown route metadata.
  const instance = (OpenApiValidator.middleware as unknown as { _oav?: ValidatorInternals })._oav;
  if (typeof instance?.metadataMiddleware !== 'function') {
    throw new Error('express-openapi-validator changed: metadataMiddleware is gone; see src/platform/http/request-validation.ts');
  }
  // Our metadata step, once the library has handed it its (pre-processed) document; from then on
  // it runs directly instead of behind the library's per-request promise on that document.
  let metadata: Handler | undefined;
  // The validator's (pre-processed) schemas of each operation, found once.
  const schemasByOperation = new Map<BoundOperation, { request?: unknown; response?: unknown }>();
  instance.metadataMiddleware = (context, responseApiDoc) => (metadata = (req, _res, next) => {
    const match = req.operationMatch;
    // Unreachable behind resolveOperation; without req.openapi, ensureAuthorized denies the request.
    if (!match) return next();
    const { openapiPath, method, expressPath } = match.operation;
    let schemas = schemasByOperation.get(match.operation);
    if (!schemas) {
      schemas = { request: context.apiDoc.paths[openapiPath]?.[method], response: responseApiDoc?.paths[openapiPath]?.[method] };
      schemasByOperation.set(match.operation, schemas);
    }
    if (!schemas.request) return next(new Error(`the validator's document has no ${method} ${openapiPath}`));
    (req as unknown as { openapi: unknown }).openapi = {
      expressRoute: expressPath,
      openApiRoute: openapiPath,
      pathParams: match.params,
      schema: schemas.request,
      serial: context.serial,
      _responseSchema: schemas.response,
    };
    req.params = match.params;
    return next();
  });
  // The same for the request step: the library builds it once behind its per-request promise on
  // the document; once built, it runs directly (one promise hop less on every validated request).
  const buildRequestStep = instance.requestValidationMiddleware;
  let requestStep: Handler | undefined;
  if (typeof buildRequestStep === 'function') {
    instance.requestValidationMiddleware = (apiDoc) => (requestStep = buildRequestStep.call(instance, apiDoc));
  }
  const kept = middlewares.filter((step) => !idleSteps.has(step.name));
  const direct = (step: Handler): Handler => {
    if (step.name === 'metadataMiddleware') return (req, res, next) => (metadata ?? step)(req, res, next);
    if (step.name === 'requestMiddleware') return (req, res, next) => (requestStep ?? step)(req, res, next);
    return step;
  };
  const full = inSequence(kept.map(direct));
  // Nothing the request validator could refuse: an operation with no parameters (its own or its
  // path's) and no request body, asked without a query string and without a body. Its ajv
  // schema then admits every request (headers and cookies are only checked where declared), so
  // the step is skipped; the route metadata (and response validation, where on) still run, and
  // a query string (even `?`) or any body goes through the full validator as before.
  const rest = kept.filter((step) => step.name !== 'requestMiddleware');
  const withoutRequestStep = rest.length === kept.length ? full : rest.length === 1 ? direct(rest[0]) : inSequence(rest.map(direct));
  const document = options.apiSpec as unknown as OpenApiDocument;
  // Decided once per operation (the matcher's objects), not per request.
  const nothingToValidate = new Map<BoundOperation, boolean>();
  const parameterless = (bound: BoundOperation) => {
    let known = nothingToValidate.get(bound);
    if (known === undefined) {
      const pathItem = document.paths[bound.openapiPath] as (Record<string, unknown> & { parameters?: unknown[] }) | undefined;
      const operation = pathItem?.[bound.method] as { parameters?: unknown[]; requestBody?: unknown } | undefined;
      known = Boolean(operation) && !operation!.parameters?.length && !pathItem!.parameters?.length && operation!.requestBody === undefined;
      nothingToValidate.set(bound, known);
    }
    return known;
  };
  return (req, res, next) => {
    const match = req.operationMatch;
    const bare = match && !req.url.includes('?') && !hasBody(req) && parameterless(match.operation);
    return (bare ? withoutRequestStep : full)(req, res, next);
  };
}
