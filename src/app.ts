// Builds the Express app: request ids and logs, security headers, body parsing, the OpenAPI
// validator, authorization, the handlers bound by operationId, and problem+json errors.
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import * as OpenApiValidator from 'express-openapi-validator';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import type { Container } from './container.js';
import { createAuthorization, type SchemeResolver } from './platform/http/auth.js';
import { metricsTokenScheme, withoutMetricsRoute } from './platform/http/metrics-endpoint.js';
import { listOperations } from './platform/http/openapi.js';
import { strictFormats } from './platform/http/formats.js';
import { toProblem } from './platform/http/problem.js';
import { systemRoutes } from './platform/http/system-routes.js';
import type { RouteTable } from './platform/platform.js';

const safeRequestId = /^[A-Za-z0-9._-]{8,128}$/;
// The names OWASP's no-credentials-in-url rule looks for (openapi/spectral.yaml).
const credentialParameter = /(client_?secret|token|password|secret|api-?key)/i;

export function createApp(container: Container): express.Express {
  const { platform, modules } = container;
  const { config, logger, metrics } = platform;
  const document = config.metricsToken ? container.document : withoutMetricsRoute(container.document);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', /^\d+$/.test(config.trustProxy) ? Number(config.trustProxy) : config.trustProxy);
  app.set('query parser', 'extended');

  // A path parameter that is itself a credential (the one-time deletion-receipt token) must not
  // reach the access log. pino-http serializes the request when it arrives, before any route is
  // matched, so the path is matched here against those routes and the secret segment replaced by
  // its template name ("/api/v1/deletion-receipts/{token}").
  const credentialPaths = listOperations(document)
    .filter((op) => [...op.openapiPath.matchAll(/\{([^}]+)\}/g)].some(([, name]) => credentialParameter.test(name)))
    .map((op) => {
      const segments = op.openapiPath.split('/');
      const pattern = new RegExp(`^${segments.map((seg) => (seg.startsWith('{') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
      return { pattern, segments };
    });
  const loggedPath = (url: string | undefined) => {
    const path = url?.split('?')[0];
    const route = path ? credentialPaths.find((r) => r.pattern.test(path)) : undefined;
    if (!path || !route) return path;
    return path.split('/').map((seg, i) => (route.segments[i]?.startsWith('{') && credentialParameter.test(route.segments[i]) ? route.segments[i] : seg)).join('/');
  };

  app.use((req, res, next) => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && safeRequestId.test(incoming) ? incoming : randomUUID();
    res.set('X-Request-Id', req.requestId);
    next();
  });
  app.use(pinoHttp({
    logger,
    genReqId: (req) => (req as Request).requestId,
    customProps: (req) => ({ requestId: (req as Request).requestId }),
    serializers: {
      req: (req) => ({ method: req.method, url: loggedPath(req.url), remoteAddress: req.remoteAddress }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
  }));

  app.use((req, res, next) => {
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const route = (req as unknown as { openapi?: { openApiRoute?: string } }).openapi?.openApiRoute ?? 'unmatched';
      stop({ method: req.method, route });
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });

  app.use(helmet({
    hsts: { maxAge: config.hstsMaxAge, includeSubDomains: true },
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], frameAncestors: ["'none'"] } },
    referrerPolicy: { policy: 'no-referrer' },
  }));
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  const schemes: Record<string, SchemeResolver> = config.metricsToken ? { metricsToken: metricsTokenScheme(config.metricsToken) } : {};
  const routes: RouteTable = { ...systemRoutes(platform, document) };
  for (const module of modules) {
    Object.assign(schemes, module.schemes);
    for (const [operationId, handler] of Object.entries(module.routes ?? {})) {
      if (routes[operationId]) throw new Error(`operationId ${operationId} has two handlers`);
      routes[operationId] = handler;
    }
  }
  const deniedObservers = modules.flatMap((m) => (m.onDenied ? [m.onDenied] : []));
  const errorShapes = modules.flatMap((m) => (m.errorShape ? [m.errorShape] : []));
  const authorization = createAuthorization({
    document,
    schemes,
    onDenied: async (denial) => { for (const observe of deniedObservers) await observe(denial); },
  });

  app.use(express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] }));
  // Authentication before validation: without a valid token every protected route answers 401.
  app.use(authorization.authenticate);
  app.use(OpenApiValidator.middleware({
    apiSpec: document as never,
    // allErrors so a 400 lists every bad field at once (RFC 9457 `errors`); the cost ajv warns
    // about is bounded by CUSTOS_BODY_LIMIT_BYTES and the spec's maxLength/maxItems.
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: true, allErrors: true },
    validateResponses: config.validateResponses ? { removeAdditional: false } : false,
    validateSecurity: false,
    validateFormats: true,
    formats: strictFormats,
    fileUploader: false,
  }));
  app.use(authorization.ensureAuthorized);

  const operations = listOperations(document);
  const missing = operations.filter((op) => !routes[op.operationId]).map((op) => op.operationId);
  if (missing.length) throw new Error(`OpenAPI operations without a handler: ${missing.join(', ')}`);
  const undocumented = Object.keys(routes).filter((id) => !operations.some((op) => op.operationId === id));
  if (undocumented.length) throw new Error(`Handlers without an OpenAPI operation: ${undocumented.join(', ')}`);
  for (const op of operations) {
    const handler = routes[op.operationId];
    app[op.method](op.expressPath, async (req: Request, res: Response, next: NextFunction) => {
      try {
        await handler(req, res);
      } catch (error) {
        next(error);
      }
    });
  }

  // Anything the validator let through but no handler matched.
  app.use((_req: Request, _res: Response, next: NextFunction) => {
    next({ status: 404, errors: [], message: 'not found' });
  });

  app.use(async (error: unknown, req: Request, res: Response, _next: NextFunction) => {
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
      req.log?.error({ err: error, requestId: req.requestId }, 'request failed');
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
  });

  return app;
}
