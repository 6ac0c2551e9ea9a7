// The HTTP role: plain HTTP, or TLS termination with a minimum version and a plain-HTTP
// listener that only redirects to HTTPS. Graceful shutdown stops accepting, lets in-flight
// requests finish (up to the grace period), then closes the pools.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { appServerOptions, createApp } from './app.js';
import { startMetricsListener } from './platform/http/metrics-endpoint.js';
import type { Container } from './container.js';

export interface RunningServer {
  url: string;
  /** The loopback metrics listener (CUSTOS_METRICS_PORT), when configured. */
  metricsUrl?: string;
  close(): Promise<void>;
}

export async function startServer(container: Container): Promise<RunningServer> {
  const { config, logger } = container.platform;
  const app = createApp(container);
  const servers: http.Server[] = [];
  let main: http.Server;
  if (config.tls) {
    main = https.createServer({
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      minVersion: config.tls.minVersion,
      ...appServerOptions(app),
    }, app);
    if (config.tls.redirectPort) {
      const redirect = http.createServer((req, res) => {
        // With PUBLIC_URL set, redirect there, never to a Host header a client made up.
        if (config.publicUrl) {
          res.writeHead(308, { Location: new URL(req.url ?? '/', config.publicUrl).toString() }).end();
          return;
        }
        const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
        // The port actually bound (PORT=0 picks a free one), not the configured number.
        const bound = (main.address() as AddressInfo | null)?.port ?? config.port;
        const port = bound === 443 ? '' : `:${bound}`;
        res.writeHead(308, { Location: `https://${host}${port}${req.url ?? '/'}` }).end();
      });
      await new Promise<void>((resolve) => redirect.listen(config.tls!.redirectPort, config.host, resolve));
      servers.push(redirect);
    }
  } else {
    main = http.createServer(appServerOptions(app), app);
  }
  main.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => main.listen(config.port, config.host, resolve));
  servers.unshift(main);
  const { port } = main.address() as AddressInfo;
  const scheme = config.tls ? 'https' : 'http';
  const url = config.publicUrl ?? `${scheme}://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
  // Links the API hands out (deletion receipts) are absolute: without PUBLIC_URL, this address.
  app.locals.listeningUrl = url;
  logger.info({ url }, 'API listening');
  let metricsUrl: string | undefined;
  if (config.metricsPort) {
    const metricsServer = await startMetricsListener(container.platform, config.metricsPort);
    servers.push(metricsServer);
    metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
    logger.info({ url: metricsUrl }, 'metrics listening on loopback');
  }

  return {
    url,
    metricsUrl,
    async close() {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
        // A keep-alive connection whose request finishes after close() would otherwise idle for
        // keepAliveTimeout before the server lets go; sweep idle connections until it closes.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        server.close(() => { clearTimeout(force); clearInterval(sweep); resolve(); });
        server.closeIdleConnections();
      })));
    },
  };
}
