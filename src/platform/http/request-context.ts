// What every request gets before routing: a request id, the security headers, one log line and
// the HTTP metrics when it ends. One middleware and one 'close' listener instead of four
// middlewares (request id, request logging, metrics, helmet + Cache-Control), because in the profile
// of /healthz these per-request costs were several times the framework's own (issue 15).
import type { NextFunction, Request, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { HttpRequestTally, Metrics } from '../metrics.js';
import type { BoundOperation } from './openapi.js';
import { responseHeaderSetter } from './response-headers.js';

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

/**
 * The HTTP metrics of one request. The histogram's label child and the request tally are found
 * by the matched operation (an object, so no key string is built per request) and the status.
 */
function httpMetricsRecorder(metrics: Metrics) {
  interface Series { route: string; duration: ReturnType<Metrics['httpDuration']['labels']>; counts: Map<number, HttpRequestTally> }
  // A matched request's method is its operation's; an unmatched one is keyed by its method.
  const series = new Map<BoundOperation | string, Series>();
  return (method: string, operation: BoundOperation | undefined, status: number, seconds: number) => {
    const key = operation ?? method;
    let route = series.get(key);
    if (!route) {
      const name = operation?.openapiPath ?? 'unmatched';
      series.set(key, (route = { route: name, duration: metrics.httpDuration.labels(method, name), counts: new Map() }));
    }
    route.duration.observe(seconds);
    let count = route.counts.get(status);
    if (!count) route.counts.set(status, (count = metrics.httpRequestTally(method, route.route, String(status))));
    count.pending += 1;
  };
}

const requestStarted = Symbol('custos.requestStarted');
type TimedRequest = Request & { [requestStarted]: number };

export function createRequestContext({ logger, metrics, headers, quietPaths, loggedPath, requestPrototype }: RequestContextOptions) {
  // A getter on the prototype, not a property defined on each request: defining an accessor on
  // every request object cost a shape change per request (issue 15).
  Object.defineProperty(requestPrototype, 'log', {
    configurable: true,
    enumerable: false,
    get(this: Request & { [childLogger]?: Logger }) { return (this[childLogger] ??= logger.child({ requestId: this.requestId })); },
    set(this: Request & { [childLogger]?: Logger }, value: Logger) { this[childLogger] = value; },
  });
  const setResponseHeaders = responseHeaderSetter([...headers, ['Cache-Control', 'no-store']]);
  const recordHttp = httpMetricsRecorder(metrics);

  // One listener function for every response ('close' follows 'finish' on every response, and
  // comes alone on an aborted one), reading what it needs from the response: a closure and a
  // once() wrapper per request were a measurable share of /healthz (issue 15).
  function onClose(this: Response) {
    const res = this;
    const req = res.req as TimedRequest;
    const aborted = !res.writableFinished;
    const seconds = (performance.now() - req[requestStarted]) / 1000;
    const status = res.statusCode;
    recordHttp(req.method, req.operationMatch?.operation, status, seconds);
    const url = req.originalUrl;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (!aborted && status < 500 && quietPaths.has(path)) return;
    // The fields pino-http wrote, so log queries keep working; no headers, no body.
    const line = { requestId: req.requestId, req: { method: req.method, url: loggedPath(path, req.operationMatch), remoteAddress: req.socket.remoteAddress }, res: { statusCode: status }, responseTime: Math.round(seconds * 1000) };
    if (aborted) logger.warn(line, 'request aborted');
    else if (status >= 500) logger.error(line, 'request errored');
    else logger.info(line, 'request completed');
  }

  return function requestContext(req: Request, res: Response, next: NextFunction) {
    (req as TimedRequest)[requestStarted] = performance.now();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && safeRequestId.test(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    setResponseHeaders(res, requestId);
    res.on('close', onClose);
    next();
  };
}
