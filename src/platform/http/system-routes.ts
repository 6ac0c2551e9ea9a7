// Operational endpoints: liveness, readiness, Prometheus metrics, the API reference.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform, RouteTable } from '../platform.js';
import { NotFoundError, ServiceUnavailableError } from './problem.js';
import { scrapeMetrics } from './metrics-endpoint.js';
import { withTimeout } from '../with-timeout.js';
import type { OpenApiDocument } from './openapi.js';

const swaggerDir = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
// A Map, not an object literal: `docsAssets['__proto__']` on a plain object found
// Object.prototype and sent the request on to readFileSync (a 500).
const docsAssets = new Map<string, string>([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
]);

// No inline script, so the page works under the strict Content-Security-Policy.
const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custos API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script></body></html>`;
const docsInit = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });`;

export function systemRoutes(platform: Platform, document: OpenApiDocument): RouteTable {
  const { db, redis, config } = platform;
  return {
    // Only when a token is configured; otherwise /metrics is not on the public listener at all.
    ...(config.metricsToken ? {
      getMetrics: async (_req, res) => {
        const { contentType, body } = await scrapeMetrics(platform);
        res.type(contentType).send(body);
      },
    } satisfies RouteTable : {}),

    getHealth: (_req, res) => {
      res.json({ status: 'ok' });
    },

    getReadiness: async (_req, res) => {
      const check = async (fn: () => Promise<unknown>) => {
        try {
          await withTimeout(fn(), 2000);
          return 'up' as const;
        } catch {
          return 'down' as const;
        }
      };
      const [postgres, redisState] = await Promise.all([check(() => db.raw('select 1')), check(() => redis.ping())]);
      const body = { status: postgres === 'up' && redisState === 'up' ? 'ready' : 'unavailable', checks: { postgres, redis: redisState } };
      res.status(body.status === 'ready' ? 200 : 503).json(body);
    },

    getOpenApi: (_req, res) => {
      // The file says "/" (wherever it was fetched from); a configured PUBLIC_URL is more exact.
      res.json(config.publicUrl ? { ...document, servers: [{ url: config.publicUrl, description: 'This deployment.', 'x-internal': false }] } : document);
    },

    getDocs: (_req, res) => {
      res.type('html').send(docsPage);
    },

    getDocsAsset: (req, res) => {
      const file = String(req.params.file);
      if (file === 'init.js') {
        res.type('text/javascript').send(docsInit);
        return;
      }
      const contentType = docsAssets.get(file);
      if (!contentType) throw new NotFoundError('No such documentation asset.');
      res.type(contentType).set('Cache-Control', 'public, max-age=86400').send(readFileSync(join(swaggerDir, file)));
    },
  };
}

export { ServiceUnavailableError };
