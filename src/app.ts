// Builds the Express app: request ids, security headers, logs and metrics; body parsing; the
// operation each request addresses, resolved once; authentication, the OpenAPI validator,
// authorization and the handler bound by operationId; problem+json errors. Express provides the
// request and response objects; its router is not used (see the end).
import express, { type NextFunction, type Request, type Response } from 'express';
import http from 'node:http';
import type { Container } from './container.js';
import { createAuthorization, type SchemeResolver } from './platform/http/auth.js';
import { strictFormats } from './platform/http/formats.js';
import { metricsTokenScheme, withoutMetricsRoute } from './platform/http/metrics-endpoint.js';
import { createOperationMatcher, type OperationMatch } from './platform/http/operation-matcher.js';
import { createRequestContext, staticSecurityHeaders } from './platform/http/request-context.js';
import { createRequestValidation } from './platform/http/request-validation.js';
import { jsonBodies } from './platform/http/json-body.js';
import { toProblem } from './platform/http/problem.js';
import { inSequence } from './platform/http/sequence.js';
import { systemRoutes } from './platform/http/system-routes.js';
import type { Handler, RouteTable } from './platform/platform.js';

// The names OWASP's no-credentials-in-url rule looks for (openapi/spectral.yaml).
const credentialParameter = /(client_?secret|token|password|secret|api-?key)/i;

/**
 * The path as the access log shows it: a path parameter that is itself a credential (the one-time
 * deletion-receipt token, a report's status token) is replaced by its template name.
 */
function loggedPath(path: string, match: OperationMatch | undefined): string {
  if (!match || !credentialParameter.test(match.operation.openapiPath)) return path;
  const template = match.operation.openapiPath.split('/');
  return path.split('/').map((segment, i) => (template[i]?.startsWith('{') && credentialParameter.test(template[i]) ? template[i] : segment)).join('/');
}

type ServerClasses = { IncomingMessage: typeof http.IncomingMessage; ServerResponse: typeof http.ServerResponse };
const serverClasses = new WeakMap<express.Express, ServerClasses>();

/**
 * Options for http(s).createServer that make each request and response with this app's
 * prototypes from the start: Node's own classes, with Express's methods (and this app's settings)
 * between them and their instances. Express otherwise swaps the prototype of both objects on
 * every request (Object.setPrototypeOf), after which V8 takes slow paths on every property access
 * of both objects: /healthz used 432 µs of CPU per request with the swap and 163 µs without
 * (bench/results/http.md). The app works either way (supertest's servers still swap).
 */
export function appServerOptions(app: express.Express): ServerClasses {
  const classes = serverClasses.get(app);
  if (!classes) throw new Error('appServerOptions needs an app made by createApp');
  return classes;
}

export function createApp(container: Container): express.Express {
  const { platform, modules } = container;
  const { config, logger, metrics } = platform;
  const document = config.metricsToken ? container.document : withoutMetricsRoute(container.document);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', /^\d+$/.test(config.trustProxy) ? Number(config.trustProxy) : config.trustProxy);
  app.set('query parser', 'extended');

  const requestContext = createRequestContext({
    logger,
    metrics,
    headers: staticSecurityHeaders({
      hsts: { maxAge: config.hstsMaxAge, includeSubDomains: true },
      contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
      referrerPolicy: { policy: 'no-referrer' },
    }),
    quietPaths: new Set(['/healthz', '/metrics']),
    loggedPath,
    requestPrototype: app.request,
  });

  // Handlers by operationId: the platform's, then each module's.
  const schemes: Record<string, SchemeResolver> = config.metricsToken ? { metricsToken: metricsTokenScheme(config.metricsToken) } : {};
  const routes: RouteTable = { ...systemRoutes(platform, document) };
  for (const module of modules) {
    Object.assign(schemes, module.schemes);
    for (const [operationId, handler] of Object.entries(module.routes ?? {})) {
      if (routes[operationId]) throw new Error(`operationId ${operationId} has two handlers`);
      routes[operationId] = handler;
    }
  }
  const matcher = createOperationMatcher(document);
  const missing = matcher.operations.filter((op) => !routes[op.operationId]).map((op) => op.operationId);
  if (missing.length) throw new Error(`OpenAPI operations without a handler: ${missing.join(', ')}`);
  const documented = new Set(matcher.operations.map((op) => op.operationId));
  const undocumented = Object.keys(routes).filter((id) => !documented.has(id));
  if (undocumented.length) throw new Error(`Handlers without an OpenAPI operation: ${undocumented.join(', ')}`);
  const handlers = new Map<string, Handler>(Object.entries(routes));

  const deniedObservers = modules.flatMap((m) => (m.onDenied ? [m.onDenied] : []));
  const errorShapes = modules.flatMap((m) => (m.errorShape ? [m.errorShape] : []));
  const authorization = createAuthorization({
    document,
    schemes,
    onDenied: async (denial) => { for (const observe of deniedObservers) await observe(denial); },
  });

  const requestValidation = createRequestValidation({
    apiSpec: document as never,
    // allErrors so a 400 lists every bad field at once (RFC 9457 `errors`); the cost ajv warns
    // about is bounded by CUSTOS_BODY_LIMIT_BYTES and the spec's maxLength/maxItems.
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true, allErrors: true },
    validateResponses: config.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    validateFormats: true,
    formats: strictFormats,
    fileUploader: false,
  });

  // Every request's steps, in this order, as one Express layer (sequence.ts): an error in any
  // step skips the rest and goes to the error handler below.
  const pipeline = inSequence([
    requestContext,
    // JSON bodies (json-body.ts); a request without a body skips the step.
    jsonBodies(config.bodyLimitBytes),
    // Method + path -> operation, once; an unknown path is 404 and a known path with another
    // method 405 here, before any principal is looked up.
    matcher.resolveOperation,
    // Authentication before validation: without a valid token every protected route answers 401.
    authorization.authenticate,
    requestValidation,
    authorization.ensureAuthorized,
    // Dispatch by the resolved operation: one map lookup instead of a walk over one Express route
    // per operation. req.params is set here because Express resets it for every middleware.
    // Not async: a handler's promise, when it returns one, is what inSequence waits on.
    (req: Request, res: Response) => {
      const match = req.operationMatch!;
      req.params = match.params;
      return handlers.get(match.operation.operationId)!(req, res);
    },
  ]);

  const onError = async (error: unknown, req: Request, res: Response) => {
    const shape = errorShapes.find((s) => req.path.startsWith(s.pathPrefix));
    if (shape?.owns(error)) {
      if (res.headersSent) res.destroy();
      else shape.send(error, req, res);
      return;
    }
    const { problem, unexpected } = toProblem(error);
    const operationId = (req as unknown as { openapi?: { schema?: { operationId?: string } } }).openapi?.schema?.operationId;
    if (problem.status === 400 && operationId) await Promise.allSettled(deniedObservers.map((observe) => observe({ req, principal: req.principal, operationId, reason: 'invalid_request' })));
    if (unexpected) {
      req.log.error({ err: error, requestId: req.requestId }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A route may have marked its answer cacheable before it failed: an error never is.
    res.set('Cache-Control', 'no-store');
    if (shape) {
      shape.sendProblem(problem, req, res);
      return;
    }
    res.status(problem.status).set(problem.headers).type('application/problem+json')
      .send(JSON.stringify({ ...problem.body(), instance: req.originalUrl.split('?')[0], requestId: req.requestId }));
  };

  // The request and response classes appServerOptions(app) hands to a server.
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse {}
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  serverClasses.set(app, { IncomingMessage: AppRequest, ServerResponse: AppResponse as unknown as typeof http.ServerResponse });

  // The whole app is one sequence and one error handler, so Express's router walk (per layer:
  // URL parsing, path matching, params and baseUrl bookkeeping) does nothing for it; it was ~12%
  // of /healthz's CPU (issue 15). This does what Express's own handle does before its router
  // (circular references, prototypes, locals; x-powered-by is off), then runs them directly.
  (app as unknown as { handle: (req: Request, res: Response, callback?: NextFunction) => void }).handle = (req, res, callback) => {
    req.res = res;
    res.req = req;
    // A server made with appServerOptions() created them with these prototypes already.
    if (Object.getPrototypeOf(req) !== AppRequest.prototype) Object.setPrototypeOf(req, app.request);
    if (Object.getPrototypeOf(res) !== AppResponse.prototype) Object.setPrototypeOf(res, app.response);
    if (!res.locals) res.locals = Object.create(null);
    req.originalUrl ??= req.url;
    req.baseUrl = '';
    req.params = {};
    pipeline(req, res, (error?: unknown) => {
      // Every request is answered by the sequence (unknown paths by resolveOperation) or here.
      const failure = error ?? new Error(`${req.method} ${req.originalUrl} fell through the pipeline`);
      onError(failure, req, res).catch((unexpected: unknown) => {
        req.log.error({ err: unexpected, requestId: req.requestId }, 'error handler failed');
        if (callback) callback(unexpected);
        else res.destroy();
      });
    });
  };
  return app;
}
