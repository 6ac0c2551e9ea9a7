// express-openapi-validator, fed the operation that operation-matcher.ts already resolved.
// The validator's own metadata step walks every route and compiles each one's path-to-regexp on
// every request (openapi.metadata.js lookupRoute), which the profile showed as the single largest
// platform cost (issue 15). Its request and response validation (ajv, compiled once per
// operation and cached) is kept: every request is still validated against the spec, a JSON body
// that is an operation's only input by the library's compiled validator called directly (issue 9).
import * as OpenApiValidator from 'express-openapi-validator';
import { hasBody } from './json-body.js';
import type { BoundOperation, OpenApiDocument } from './openapi.js';
import { inSequence, type Handler } from './sequence.js';
import { validatorLibrary, type AjvInstance, type BodyCheck } from './validator-library.js';

type Options = Parameters<typeof OpenApiValidator.middleware>[0];
interface ValidatorContext { apiDoc: OpenApiDocument; serial: number }
interface ValidatorInternals {
  metadataMiddleware: (context: ValidatorContext, responseApiDoc?: OpenApiDocument) => Handler;
  requestValidationMiddleware?: (apiDoc: OpenApiDocument) => Handler;
  ajvOpts?: { request?: unknown };
}

// Steps that do nothing here: security (validateSecurity is off; auth.ts decides access) and
// path params (they coerce params of Express routes, and operations are not Express routes).
// If a new version renames them, they are merely kept, which is slower but still correct.
const idleSteps = new Set(['securityMiddleware', 'pathParamsMiddleware']);

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
  // It is built as the library builds it (its RequestValidator with its request options), keeping
  // the validator, so that the body validators it compiles can be asked directly (bodyStep).
  const buildRequestStep = instance.requestValidationMiddleware;
  const library = validatorLibrary();
  let requestStep: Handler | undefined;
  let bodyValidators: AjvInstance | undefined;
  let validatorDocument: OpenApiDocument | undefined;
  if (typeof buildRequestStep === 'function') {
    instance.requestValidationMiddleware = (apiDoc) => {
      if (!library || !instance.ajvOpts?.request) return (requestStep = buildRequestStep.call(instance, apiDoc));
      const validator = new library.RequestValidator(apiDoc, instance.ajvOpts.request);
      if (typeof validator.ajvBody?.getSchema === 'function') bodyValidators = validator.ajvBody;
      validatorDocument = apiDoc;
      return (requestStep = (req, res, next) => validator.validate(req, res, next));
    };
  }
  // A JSON body is the only input of most write operations (no parameters). For such a request
  // sent as `application/json` without a query string, the library's step builds its request
  // data, parses the content type again, runs a parameter validator that cannot fail and then the
  // body validator it compiled for this operation and content type (issue 9). That compiled
  // validator, found by the library's own cache key once the step has run, is asked directly,
  // once: a body it refuses gets the 400 the library builds from the same errors. (Asking the
  // library's step again instead would validate a body the first pass may have coerced.)
  const bodyChecks = new Map<BoundOperation, BodyCheck | null>();
  const bodyCheckOf = (req: Parameters<Handler>[0]): BodyCheck | null | undefined => {
    const match = req.operationMatch;
    if (!match || !bodyValidators || req.body === undefined || req.headers['content-type'] !== 'application/json' || req.url.includes('?')) return undefined;
    let check = bodyChecks.get(match.operation);
    if (check === undefined) {
      if (!bodyOnly(match.operation)) check = null;
      else if (!(check = bodyValidators.getSchema(`${req.method}-${match.operation.expressPath}-application/json`) ?? null)) return undefined;
      bodyChecks.set(match.operation, check);
    }
    return check;
  };
  const bodyStep = (libraryStep: Handler): Handler => (req, res, next) => {
    const check = bodyCheckOf(req);
    if (!check) return (requestStep ?? libraryStep)(req, res, next);
    if (check({ query: {}, headers: req.headers, params: {}, cookies: undefined, body: req.body })) return next();
    return next(library!.refusal(req.path, check.errors ?? [], bodyValidators!));
  };
  const kept = middlewares.filter((step) => !idleSteps.has(step.name));
  const direct = (step: Handler): Handler => {
    if (step.name === 'metadataMiddleware') return (req, res, next) => (metadata ?? step)(req, res, next);
    if (step.name === 'requestMiddleware') return bodyStep(step);
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
  // Whether neither the operation nor its path declares parameters, and the operation as declared.
  const declared = (bound: BoundOperation) => {
    const pathItem = document.paths[bound.openapiPath] as (Record<string, unknown> & { parameters?: unknown[] }) | undefined;
    const operation = pathItem?.[bound.method] as { parameters?: unknown[]; requestBody?: unknown } | undefined;
    return { operation, noParameters: Boolean(operation) && !operation!.parameters?.length && !pathItem!.parameters?.length };
  };
  // Decided once per operation (the matcher's objects), not per request.
  const nothingToValidate = new Map<BoundOperation, boolean>();
  const parameterless = (bound: BoundOperation) => {
    let known = nothingToValidate.get(bound);
    if (known === undefined) {
      const { operation, noParameters } = declared(bound);
      known = noParameters && operation!.requestBody === undefined;
      nothingToValidate.set(bound, known);
    }
    return known;
  };
  // A JSON body is an operation's only input when it declares no parameters, and the library
  // takes no special path for the body (a discriminated schema, in the library's document).
  const bodyOnly = (bound: BoundOperation) => {
    const processed = validatorDocument?.paths[bound.openapiPath]?.[bound.method] as { requestBody?: { content?: Record<string, { schema?: { _discriminator?: unknown } }> } } | undefined;
    const content = processed?.requestBody?.content?.['application/json'];
    return declared(bound).noParameters && Boolean(content) && content!.schema?._discriminator === undefined;
  };
  return (req, res, next) => {
    const match = req.operationMatch;
    const bare = match && !req.url.includes('?') && !hasBody(req) && parameterless(match.operation);
    return (bare ? withoutRequestStep : full)(req, res, next);
  };
}
