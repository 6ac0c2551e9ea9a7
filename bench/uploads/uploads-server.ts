// Benchmark target (a child process of uploads.bench.ts): the real app of the checkout at
// CUSTOS_BENCH_ROOT (this one by default; a worktree of main for the "before" figures) on a fresh
// database, with one user who owns one chat. Prints {port, token} once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(process.env.CUSTOS_BENCH_ROOT ?? '.');
const load = (path: string) => import(pathToFileURL(join(root, path)).href);
const { createApp, appServerOptions } = await load('src/app.ts');
const { loadConfig } = await load('src/config.ts');
const { createContainer } = await load('src/container.ts');
const { createDb, withDatabaseName } = await load('src/platform/db.ts');
const { migrateDatabase } = await load('src/platform/db-roles.ts');
const { generateSecrets } = await load('src/platform/dev-secrets.ts');

const database = process.env.CUSTOS_BENCH_DATABASE ?? 'custos_bench_uploads';
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const admin = createDb(withDatabaseName(serverUrl, 'postgres'), 1);
await admin.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
await admin.raw(`CREATE DATABASE "${database}"`);
await admin.destroy();

const config = loadConfig({
  ...process.env,
  ...generateSecrets(),
  NODE_ENV: 'development',
  DATABASE_URL: withDatabaseName(serverUrl, database),
  CUSTOS_QUEUE_PREFIX: `custos_bench_${database}`,
  CUSTOS_LOG_LEVEL: 'silent',
  CUSTOS_ARTIFACT_DIR: `.local/bench-artifacts/${database}`,
  CUSTOS_VALIDATE_RESPONSES: 'false',
});
await migrateDatabase(config); // owner connection; it also creates the runtime role the container runs as
const container = createContainer(config);

const email = 'bench-uploads@custos.test';
const password = 'Tangerine-Harbour-Quill-42';
const user = await container.accounts.register(email, password);
await container.chat.createChat(user.id, 'Benchmark chat');

const app = createApp(container);
// As `custos serve` makes its server (checkouts from before appServerOptions: Node's defaults).
const server = http.createServer(appServerOptions ? appServerOptions(app) : {}, app);
server.keepAliveTimeout = 120_000;
server.requestTimeout = 0; // the "before" code holds a 10,000-page upload for minutes
await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
const login = await container.accounts.loginUser({ email, password, ip: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, token: login.token })}\n`);

process.on('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  await container.close();
  const cleanup = createDb(withDatabaseName(serverUrl, 'postgres'), 1);
  await cleanup.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => {});
  await cleanup.destroy();
  process.exit(0);
});
