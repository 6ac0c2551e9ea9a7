// What every request gets before routing: a request id, the security headers, one log line and
// the HTTP metrics when it ends. One middleware and one 'close' listener instead of four
// middlewares (request id, request logging, metrics, helmet + Cache-Control), because in the profile
// of /healthz these per-request costs were several times the framework's own (issue 15).
import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

const safeRequestId = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Helmet's headers for these options, computed once. With static options (no CSP nonce
 * functions) helmet sets the same headers on every response, so running its dozen middlewares
 * per request buys nothing; the values still come from helmet itself, not from a copy here.
 */
export function staticSecurityHeaders(options: HelmetOptions): Array<[string, string]> {
  if (Object.values(options.contentSecurityPolicy && typeof options.contentSecurityPolicy === 'object' ? options.contentSecurityPolicy.directives ?? {} : {})
    .some((value) => (Array.isArray(value) ? value : [value]).some((v) => typeof v === 'function'))) {
    throw new Error('CSP directives computed per request cannot be precomputed; run helmet per request instead');
  }
  const headers: Array<[string, string]> = [];
  const res = {
    setHeader: (name: string, value: string | number | string[]) => { headers.push([name, String(value)]); },
    removeHeader: () => {},
    getHeader: () => undefined,
  };
  let called = false;
  helmet(options)({} as never, res as never, () => { called = true; });
  if (!called) throw new Error('helmet did not finish synchronously; run it per request instead');
  return headers;
}

interface RequestContextOptions {
  logger: Logger;
  metrics: Metrics;
  headers: Array<[string, string]>;
  /** Paths whose successful requests are not logged (probes and scrapes). */
  quietPaths: Set<string>;
  /** The path as logged (credentials in a path replaced by their template name). */
  loggedPath: (path: string, match: Request['operationMatch']) => string;
  /** The app's request prototype (`app.request`), where `req.log` is defined once for all requests. */
  requestPrototype: object;
}

const childLogger = Symbol('custos.requestLogger');

declare module 'express-serve-static-core' {
  interface Request {
    /** This request's logger (bound to its request id), created on first use. */
    log: Logger;
  }
}

export function createRequestContext({ logger, metrics, headers, quietPaths, loggedPath, requestPrototype }: RequestContextOptions) {
  // A getter on the prototype, not a property defined on each request: defining an accessor on
  // every request object cost a shape change per request (issue 15).
  Object.defineProperty(requestPrototype, 'log', {
    configurable: true,
    enumerable: false,
    get(this: Request & { [childLogger]?: Logger }) { return (this[childLogger] ??= logger.child({ requestId: this.requestId })); },
    set(this: Request & { [childLogger]?: Logger }, value: Logger) { this[childLogger] = value; },
  });
  // prom-client hashes the label set on every observe; children per label set skip that.
  const durations = new Map<string, ReturnType<Metrics['httpDuration']['labels']>>();
  const counts = new Map<string, ReturnType<Metrics['httpRequests']['labels']>>();
  const duration = (method: string, route: string) => {
    const key = `${method} ${route}`;
    let child = durations.get(key);
    if (!child) durations.set(key, (child = metrics.httpDuration.labels(method, route)));
    return child;
  };
  const count = (method: string, route: string, status: string) => {
    const key = `${method} ${route} ${status}`;
    let child = counts.get(key);
    if (!child) counts.set(key, (child = metrics.httpRequests.labels(method, route, status)));
    return child;
  };

  return function requestContext(req: Request, res: Response, next: NextFunction) {
    const started = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && safeRequestId.test(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    for (const [name, value] of headers) res.setHeader(name, value);
    res.setHeader('Cache-Control', 'no-store');

    const done = (aborted: boolean) => {
      const seconds = (performance.now() - started) / 1000;
      const route = req.operationMatch?.operation.openapiPath ?? 'unmatched';
      const status = res.statusCode;
      duration(req.method, route).observe(seconds);
      count(req.method, route, String(status)).inc();
      const path = req.originalUrl.split('?', 1)[0];
      if (!aborted && status < 500 && quietPaths.has(path)) return;
      // The fields pino-http wrote, so log queries keep working; no headers, no body.
      const line = { requestId, req: { method: req.method, url: loggedPath(path, req.operationMatch), remoteAddress: req.socket.remoteAddress }, res: { statusCode: status }, responseTime: Math.round(seconds * 1000) };
      if (aborted) logger.warn(line, 'request aborted');
      else if (status >= 500) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    };
    // 'close' follows 'finish' on every response, and alone on an aborted one: one listener.
    res.once('close', () => done(!res.writableFinished));
    next();
  };
}
