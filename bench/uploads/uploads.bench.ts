// Upload benchmark (issue 12 item 2): how other requests fare while a big or hostile upload is
// being extracted. Run:
//   npx tsx bench/uploads/uploads.bench.ts [--label after] [--rate 20] [--root .] [--env K=V,…]
// The server (bench/uploads/uploads-server.ts) runs the app of the checkout at --root in a child
// process, so the load generator never shares its event loop. Background load: GET /healthz and an
// authenticated GET /api/v1/chats, each at a FIXED --rate per second (open loop: latency counted
// from the scheduled instant, so a stalled server cannot hide its queue). Scenarios, one after the
// other: idle (no upload, 5 s), a 20 MB PDF (100 pages of raw image data plus a line of text each),
// and a 10,000-page PDF whose pages share one content stream. The window of each scenario runs
// from the upload's start until 1 s after its answer, at least 5 s. For "before", point --root at
// a worktree of main (see bench/results/uploads.md). Prints a markdown section and saves JSON to
// .local/bench-uploads-<label>.json.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { PDFDocument, PDFName, StandardFonts } from 'pdf-lib';
import { makeSharedStreamPdf } from '../../test/chat/fixtures.js';

const option = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const LABEL = option('label', 'after');
const RATE = Number(option('rate', '20'));
const ROOT = option('root', '.');
const EXTRA_ENV = Object.fromEntries(option('env', '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const MIN_WINDOW_MS = 5000;
const loads = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

async function twentyMegabytePdf(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let n = 0; n < 100; n += 1) {
    // 256×256 RGB of random bytes, unfiltered: 196 KiB a page that no text extractor decodes.
    const image = doc.context.register(doc.context.stream(randomBytes(256 * 256 * 3), {
      Type: 'XObject', Subtype: 'Image', Width: 256, Height: 256, ColorSpace: 'DeviceRGB', BitsPerComponent: 8,
    }));
    const page = doc.addPage([612, 792]);
    page.node.setXObject(PDFName.of(`Im${n}`), image);
    page.drawText(`Scanned page ${n + 1}`, { x: 50, y: 750, font, size: 12 });
    const content = doc.context.register(doc.context.stream(`q 512 0 0 512 50 150 cm /Im${n} Do Q`));
    page.node.addContentStream(content);
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

const server = spawn(process.execPath, ['--import', 'tsx', 'bench/uploads/uploads-server.ts'], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, ...EXTRA_ENV, CUSTOS_BENCH_ROOT: ROOT },
});
const ready = await new Promise<{ port: number; token: string }>((resolve, reject) => {
  createInterface({ input: server.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function request(method: string, path: string, body?: { type: string; bytes: Buffer }): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${ready.token}` };
    if (body) { headers['Content-Type'] = body.type; headers['Content-Length'] = String(body.bytes.length); }
    const req = http.request({ host: '127.0.0.1', port: ready.port, method, path, agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body?.bytes);
  });
}

function multipart(name: string, bytes: Buffer) {
  const boundary = `----custos-bench-${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return { type: `multipart/form-data; boundary=${boundary}`, bytes: Buffer.concat([head, bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]) };
}

/** Fires `path` RATE times a second until `until()` says stop; latency from the scheduled instant. */
async function fixedRate(path: string, until: () => boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; !until(); i += 1) {
    const scheduled = start + (i * 1000) / RATE;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(request('GET', path).then((r) => {
      latencies.push(performance.now() - scheduled);
      if (r.status !== 200) errors += 1;
    }, () => { errors += 1; }));
  }
  await Promise.all(inFlight);
  return { latencies, errors };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const stats = (latencies: number[]) => {
  const s = [...latencies].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
};

interface Scenario { name: string; file?: { name: string; bytes: Buffer } }
async function run({ name, file }: Scenario) {
  const loadBefore = loads();
  const started = performance.now();
  let uploadDone = false;
  let doneAt = 0;
  const upload = file
    ? request('POST', '/api/v1/files', multipart(file.name, file.bytes)).then((r) => { uploadDone = true; doneAt = performance.now(); return r; })
    : Promise.resolve(undefined).then(() => { uploadDone = true; doneAt = performance.now(); return undefined; });
  const until = () => uploadDone && performance.now() - started >= MIN_WINDOW_MS && performance.now() - doneAt >= 1000;
  const [health, chats, answer] = await Promise.all([fixedRate('/healthz', until), fixedRate('/api/v1/chats', until), upload]);
  let outcome = 'none';
  if (answer) {
    const body = JSON.parse(answer.text || '{}') as { limit?: string; id?: string };
    outcome = `${answer.status}${body.limit ? ` (${body.limit})` : ''}`;
    if (body.id) await request('DELETE', `/api/v1/files/${body.id}`);
  }
  return {
    name, size: file?.bytes.length ?? 0, outcome, uploadMs: Math.round(doneAt - started), windowMs: Math.round(performance.now() - started),
    healthz: { ...stats(health.latencies), errors: health.errors }, chats: { ...stats(chats.latencies), errors: chats.errors },
    loadBefore, loadAfter: loads(),
  };
}

try {
  for (let n = 0; n < 10; n += 1) await request('GET', '/healthz'); // warm up
  const scenarios: Scenario[] = [
    { name: 'idle (no upload)' },
    { name: '20 MB PDF', file: { name: 'scan.pdf', bytes: await twentyMegabytePdf() } },
    { name: '10,000-page PDF, one shared content stream', file: { name: 'pages.pdf', bytes: await makeSharedStreamPdf(10_000, 2) } },
  ];
  const results = [];
  for (const scenario of scenarios) {
    process.stderr.write(`${LABEL}: ${scenario.name}\n`);
    results.push(await run(scenario));
  }
  const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
  const lines = [
    `### ${LABEL} (root ${ROOT}${Object.keys(EXTRA_ENV).length ? `, ${option('env', '')}` : ''})`,
    '',
    `Run ${new Date().toISOString()}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; background rate ${RATE}/s per route.`,
    '',
    '| scenario | file | upload answer | upload ms | window ms | /healthz n | p50 | p99 | max | /api/v1/chats n | p50 | p99 | max | errors | load before → after |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map((r) => `| ${r.name} | ${(r.size / 2 ** 20).toFixed(2)} MiB | ${r.outcome} | ${r.uploadMs} | ${r.windowMs} | ${r.healthz.n} | ${ms(r.healthz.p50)} | ${ms(r.healthz.p99)} | ${ms(r.healthz.max)} | ${r.chats.n} | ${ms(r.chats.p50)} | ${ms(r.chats.p99)} | ${ms(r.chats.max)} | ${r.healthz.errors + r.chats.errors} | ${r.loadBefore} → ${r.loadAfter} |`),
    '',
  ];
  mkdirSync('.local', { recursive: true });
  writeFileSync(`.local/bench-uploads-${LABEL}.json`, JSON.stringify(results, null, 2));
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  agent.destroy();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
}
