// GET /metrics exposes the Node version, every route and queue depths, so it is never open
// (issue 12, item 8). On the public listener it needs `Authorization: Bearer
// <CUSTOS_METRICS_TOKEN>`; with no token configured the route does not exist there (404, and it
// is left out of /openapi.json). CUSTOS_METRICS_PORT adds a listener bound to 127.0.0.1 that serves
// it without a token, for a scraper on the same host or pod.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Platform } from '../platform.js';
import type { SchemeResolver } from './auth.js';
import type { OpenApiDocument } from './openapi.js';
import { withTimeout } from '../with-timeout.js';

export const METRICS_PATH = '/metrics';

// Hashing both sides first gives equal-length buffers, so neither the content nor the length of
// the configured token leaks through timing.
const digest = (value: string) => createHash('sha256').update(value).digest();

export function metricsTokenScheme(expected: string): SchemeResolver {
  const expectedDigest = digest(expected);
  return async (token) => (timingSafeEqual(digest(token), expectedDigest) ? { kind: 'metricsScraper' } : null);
}

/** The document the public listener serves when no metrics token is configured. */
export function withoutMetricsRoute(document: OpenApiDocument): OpenApiDocument {
  const paths = { ...document.paths };
  delete paths[METRICS_PATH];
  return { ...document, paths };
}

/** The Prometheus exposition, with queue depths read at scrape time. */
export async function scrapeMetrics(platform: Pick<Platform, 'queues' | 'metrics'>): Promise<{ contentType: string; body: string }> {
  const { metrics } = platform;
  // A Redis outage must not break the scrape: the previous figures stay.
  await Promise.all(platform.queues.all().map(async (queue) => {
    try {
      const counts = await withTimeout(queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'), 1000);
      for (const [state, count] of Object.entries(counts)) metrics.queueJobs.set({ queue: queue.name, state }, count);
    } catch {
      /* leave the previous figures */
    }
  }));
  return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

/** The loopback-only listener: GET /metrics and nothing else, no token. */
export async function startMetricsListener(platform: Pick<Platform, 'queues' | 'metrics'>, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== METRICS_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Only GET /metrics is served here.\n');
      return;
    }
    scrapeMetrics(platform).then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(body),
      () => res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Metrics are unavailable.\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  return server;
}
