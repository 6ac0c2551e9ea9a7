// Run: npx tsx bench/http/in-process-ab.ts <checkout A | bare> <checkout B | bare> [batch 1000] [pairs 60] [path /healthz]
// (after http-bench.ts has created and migrated custos_bench_http; 'bare' is a bare Express 5 app with the same /healthz).
// Steadier than wrk on a busy machine: both apps in one process, batches alternate every ~0.3 s, so outside load hits both alike.
// The figure includes the client's CPU, which dilutes ratios towards 1.
// In-process A/B of GET /healthz: both checkouts' apps in one process, driven over loopback by a
// pipelining raw-socket client, alternating small batches so outside load hits both alike.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
const [aDir, bDir] = [process.argv[2], process.argv[3]];
const BATCH = Number(process.argv[4] ?? 200), PAIRS = Number(process.argv[5] ?? 150), PATH = process.argv[6] ?? '/healthz';
const { generateSecrets } = await import(`${aDir === "bare" ? bDir : aDir}/src/platform/dev-secrets.ts`);
const env = { ...process.env, ...generateSecrets(), NODE_ENV: 'development', CUSTOS_VALIDATE_RESPONSES: 'false', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/custos_bench_http', CUSTOS_QUEUE_PREFIX: 'custos_bench_http', CUSTOS_LOG_LEVEL: 'info' };
async function serve(dir: string) {
  if (dir === 'bare') {
    const { default: express } = await import('express');
    const app = express();
    app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
    return drive(http.createServer(app), { close: async () => {} });
  }
  const { loadConfig } = await import(`${dir}/src/config.ts`);
  const { createContainer } = await import(`${dir}/src/container.ts`);
  const { createApp } = await import(`${dir}/src/app.ts`);
  const { pino } = await import('pino');
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  const container = createContainer(loadConfig(env), logger);
  return drive(http.createServer(createApp(container)), container);
}
async function drive(server: http.Server, container: { close(): Promise<void> }) {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const request = Buffer.from(`GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  const burst = Buffer.concat(Array.from({ length: BATCH }, () => request));
  let waiting: (() => void) | undefined; let seen = 0; let tail = '';
  socket.on('data', (chunk) => { const text = tail + chunk.toString('latin1'); let i = -1; while ((i = text.indexOf('HTTP/1.1 200', i + 1)) !== -1) seen++; tail = text.slice(-12); if (seen >= BATCH && waiting) { const w = waiting; waiting = undefined; w(); } });
  return {
    container, server, socket,
    batch: () => new Promise<void>((r) => { seen = 0; waiting = r; socket.write(burst); }),
  };
}
const a = await serve(aDir), b = await serve(bDir);
for (let i = 0; i < 30; i++) { await a.batch(); await b.batch(); }
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const ratios: number[] = []; let ta = 0, tb = 0;
for (let i = 0; i < PAIRS; i++) {
  const first = i % 2 ? a : b; const second = first === a ? b : a;
  let c0 = cpu(); await first.batch(); const d1 = cpu() - c0;
  c0 = cpu(); await second.batch(); const d2 = cpu() - c0;
  const [da, db] = first === a ? [d1, d2] : [d2, d1];
  ta += da; tb += db; ratios.push(da / db);
}
ratios.sort((x, y) => x - y);
console.log(`${PATH}: A ${(ta / PAIRS / BATCH).toFixed(1)} µs/req, B ${(tb / PAIRS / BATCH).toFixed(1)} µs/req (process CPU incl. client), A/B median of ${PAIRS} batch pairs ${ratios[PAIRS >> 1].toFixed(3)} (quartiles ${ratios[PAIRS >> 2].toFixed(3)}–${ratios[(3 * PAIRS) >> 2].toFixed(3)}); total A/B ${(ta / tb).toFixed(3)}`);
for (const s of [a, b]) { s.socket.destroy(); s.server.close(); await s.container.close(); }
process.exit(0);
