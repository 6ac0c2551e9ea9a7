// Benchmark target (a child process of relay.bench.ts): the real app on a fresh database with
// its providers pointed at the fake upstream, one user with an unlimited live key and a key
// limited to 1 cent. Prints {"port", "key", "limitedKey"} once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appServerOptions, createApp } from '../../src/app.js';
import { createContainer } from '../../src/container.js';
import { freshBenchConfig } from '../support/bench-database.js';
import { recordHttpSegments } from './segment-recorder.js';

if (process.env.CUSTOS_BENCH_SEGMENTS) recordHttpSegments(process.env.CUSTOS_BENCH_SEGMENTS);

const upstream = process.argv[2];
const database = process.env.CUSTOS_BENCH_DATABASE ?? 'custos_bench_relay';
const config = await freshBenchConfig(database, {
  DATABASE_POOL_MAX: '20',
  CUSTOS_PROVIDER_OPENAI_BASE_URL: `${upstream}/v1`,
  CUSTOS_PROVIDER_OPENAI_API_KEY: 'sk-bench',
});
const container = createContainer(config);
const user = await container.accounts.register('bench-relay@custos.test', 'Tangerine-Harbour-Quill-42');
const { key } = await container.relay.createKey(user.id, { name: 'bench', environment: 'live' });
const { key: limitedKey } = await container.relay.createKey(user.id, { name: 'bench-limited', environment: 'live', spendingLimitCents: 1 });

const app = createApp(container);
const server = http.createServer({ keepAlive: true, ...appServerOptions(app) }, app);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, key, limitedKey })}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => { void container.close().then(() => process.exit(0)); });
});
