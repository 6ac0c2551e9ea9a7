// Chat benchmark, bounded in time (~30 s of load). Run: npx tsx bench/chat/messages.bench.ts
//   [--rate 300] [--seconds 5] [--rounds 2]
// GET a page of 100 messages of one user's chat at a FIXED request rate (open loop: each request
// is scheduled in advance and its latency counted from its scheduled time, so a stalled server
// cannot hide its queueing — no coordinated omission), through the real app over HTTP:
//   decrypted: GET /api/v1/chats/{id}/messages?limit=100 (session auth, query, 100 AES-GCM opens)
//   baseline:  the same query through the same stack, returning ciphertext (no decryption)
// Rounds alternate baseline/decrypted so drift on this shared machine hits both alike. The
// server runs in a child process so the load generator does not share its event loop.
// Results are written to bench/results/chat.md.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RATE = arg('rate', 300);
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 2);
const WARMUP_SECONDS = 2;
const SERIAL_REQUESTS = arg('serial', 300);
const LOAD_AT_START = loadavg().map((l) => l.toFixed(2)).join(' / ');

const child = spawn(process.execPath, ['--import', 'tsx', 'bench/chat/messages-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise<{ port: number; token: string; chatId: string }>((resolve, reject) => {
  createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function get(path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: ready.port, path, agent, headers: { Authorization: `Bearer ${ready.token}` } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Phase { latencies: number[]; errors: number; bytes: number; seconds: number }

/** Fires RATE requests per second for `seconds`, each at its scheduled instant. */
async function fixedRate(path: string, seconds: number): Promise<Phase> {
  const total = Math.round(RATE * seconds);
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i += 1) {
    const scheduled = start + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(get(path).then((r) => {
      latencies.push(performance.now() - scheduled);
      bytes += r.bytes;
      if (r.status !== 200) errors += 1;
    }, () => { errors += 1; }));
  }
  await Promise.all(inFlight);
  return { latencies, errors, bytes, seconds: (performance.now() - start) / 1000 };
}

/** One request at a time: the service time of a request with no queueing in front of it. */
async function sequential(path: string, count: number): Promise<Phase> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    const r = await get(path).catch(() => ({ status: 0, bytes: 0 }));
    latencies.push(performance.now() - t);
    bytes += r.bytes;
    if (r.status !== 200) errors += 1;
  }
  return { latencies, errors, bytes, seconds: (performance.now() - start) / 1000 };
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
function summarise(phases: Phase[]) {
  const all = phases.flatMap((p) => p.latencies).sort((a, b) => a - b);
  const requests = all.length;
  const seconds = phases.reduce((s, p) => s + p.seconds, 0);
  return {
    requests,
    errors: phases.reduce((s, p) => s + p.errors, 0),
    achievedRate: requests / seconds,
    p50: quantile(all, 0.5),
    p90: quantile(all, 0.9),
    p99: quantile(all, 0.99),
    max: all[all.length - 1],
    bytesPerResponse: phases.reduce((s, p) => s + p.bytes, 0) / Math.max(1, requests),
  };
}

const paths = {
  decrypted: `/api/v1/chats/${ready.chatId}/messages?limit=100`,
  baseline: `/api/v1/bench/chats/${ready.chatId}/messages-plain?limit=100`,
};
try {
  const check = await get(paths.decrypted);
  if (check.status !== 200) throw new Error(`decrypted route answered ${check.status}`);
  process.stderr.write(`warming up (${WARMUP_SECONDS}s each)\n`);
  await fixedRate(paths.baseline, WARMUP_SECONDS);
  await fixedRate(paths.decrypted, WARMUP_SECONDS);
  const results: Record<'baseline' | 'decrypted', Phase[]> = { baseline: [], decrypted: [] };
  const serial: Record<'baseline' | 'decrypted', Phase[]> = { baseline: [], decrypted: [] };
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const variant of ['baseline', 'decrypted'] as const) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${variant}, ${SERIAL_REQUESTS} requests one at a time\n`);
      serial[variant].push(await sequential(paths[variant], SERIAL_REQUESTS));
    }
    for (const variant of ['baseline', 'decrypted'] as const) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${variant} at ${RATE} req/s for ${SECONDS}s\n`);
      results[variant].push(await fixedRate(paths[variant], SECONDS));
    }
  }
  const sBase = summarise(serial.baseline);
  const sDec = summarise(serial.decrypted);
  const base = summarise(results.baseline);
  const dec = summarise(results.decrypted);
  const ms = (n: number) => n.toFixed(2);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const p99Goal = dec.p99 <= 15;
  const overheadGoal = dec.p99 / base.p99 <= 1.5 && dec.p50 / base.p50 <= 1.5;
  const serviceOverheadGoal = sDec.p50 / sBase.p50 <= 1.5;
  const report = `# Chat benchmark: a page of 100 decrypted messages

Command: \`npx tsx bench/chat/messages.bench.ts --rate ${RATE} --seconds ${SECONDS} --rounds ${ROUNDS}\`
Run: ${new Date().toISOString()}, Node ${process.version}
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} (\`nproc\` = ${cpus().length}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), load average at the start ${LOAD_AT_START}, at the end ${loadavg().map((l) => l.toFixed(2)).join(' / ')}; PostgreSQL on the same machine; the machine is shared with other engineers' test runs, so absolute numbers are noisy.

Method: the real app (session auth, OpenAPI request validation, JSON) in a child process, one user, one chat of 100 messages (alternating ~60-character questions and ~600-character replies). Open-loop load at a fixed ${RATE} req/s; each latency is measured from the request's scheduled start (queueing included). ${ROUNDS} alternating rounds of ${SECONDS} s per variant after a ${WARMUP_SECONDS} s warm-up each. Baseline = the same SQL through the same stack returning the ciphertext base64-encoded (no decryption).

| variant | requests | errors | achieved req/s | p50 ms | p90 ms | p99 ms | max ms | bytes/response |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| baseline (no decryption) | ${base.requests} | ${base.errors} | ${base.achievedRate.toFixed(0)} | ${ms(base.p50)} | ${ms(base.p90)} | ${ms(base.p99)} | ${ms(base.max)} | ${base.bytesPerResponse.toFixed(0)} |
| decrypted (GET /api/v1/chats/{id}/messages?limit=100) | ${dec.requests} | ${dec.errors} | ${dec.achievedRate.toFixed(0)} | ${ms(dec.p50)} | ${ms(dec.p90)} | ${ms(dec.p99)} | ${ms(dec.max)} | ${dec.bytesPerResponse.toFixed(0)} |

Ratios decrypted / baseline at the fixed rate: p50 ${ratio(dec.p50, base.p50)}×, p99 ${ratio(dec.p99, base.p99)}×.

Service time (closed loop, one request at a time, ${SERIAL_REQUESTS} × ${ROUNDS} per variant; no queueing, so this is the cost of one request):

| variant | requests | errors | req/s (one client) | p50 ms | p90 ms | p99 ms | max ms |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| baseline (no decryption) | ${sBase.requests} | ${sBase.errors} | ${sBase.achievedRate.toFixed(0)} | ${ms(sBase.p50)} | ${ms(sBase.p90)} | ${ms(sBase.p99)} | ${ms(sBase.max)} |
| decrypted | ${sDec.requests} | ${sDec.errors} | ${sDec.achievedRate.toFixed(0)} | ${ms(sDec.p50)} | ${ms(sDec.p90)} | ${ms(sDec.p99)} | ${ms(sDec.max)} |

Ratios decrypted / baseline of the service time: p50 ${ratio(sDec.p50, sBase.p50)}×, p99 ${ratio(sDec.p99, sBase.p99)}×.

Goals: p99 ≤ 15 ms at ${RATE} req/s — **${p99Goal ? 'met' : 'missed'}** (${ms(dec.p99)} ms); decryption overhead ≤ 1.5× baseline — at the fixed rate **${overheadGoal ? 'met' : 'missed'}**, in service time (p50) **${serviceOverheadGoal ? 'met' : 'missed'}**.
`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/chat.md', report);
  process.stdout.write(report);
} finally {
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
