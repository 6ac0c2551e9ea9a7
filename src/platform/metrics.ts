import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpRequestTally { labels: { method: string; route: string; status: string }; pending: number }

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'custos_' });
  // Requests are tallied in plain numbers and added to the counter when it is read: prom-client
  // checks and hashes the labels on every inc(), which was a measurable share of /healthz (issue 15).
  const tallies: HttpRequestTally[] = [];
  new Counter({
    name: 'custos_http_requests_total',
    help: 'HTTP requests by method, OpenAPI route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    collect() {
      for (const tally of tallies) {
        if (tally.pending === 0) continue;
        this.inc(tally.labels, tally.pending);
        tally.pending = 0;
      }
    },
  });
  /** A tally for one label set: `pending += 1` per request; read through custos_http_requests_total. */
  const httpRequestTally = (method: string, route: string, status: string): HttpRequestTally => {
    const tally = { labels: { method, route, status }, pending: 0 };
    tallies.push(tally);
    return tally;
  };
  const httpDuration = new Histogram({
    name: 'custos_http_request_duration_seconds',
    help: 'HTTP request latency by method and OpenAPI route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const queueJobs = new Gauge({
    name: 'custos_queue_jobs',
    help: 'BullMQ jobs by queue and state, read at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
  });
  return { registry, httpRequestTally, httpDuration, queueJobs };
}

export type Metrics = ReturnType<typeof createMetrics>;
