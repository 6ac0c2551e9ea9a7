// Relay benchmark, bounded in time (~1–2 min). Run: npx tsx bench/relay/relay.bench.ts
//   [--rate 500] [--seconds 5] [--rounds 2] [--serial 300] [--streams 1000] [--label text] [--out file.md]
// Side by side in one run, on the same local fake upstream (its own process):
//   direct   the fake upstream called without a gateway (the floor);
//   custos   Custos' /v1/chat/completions (API-key lookup in PostgreSQL, catalogue, settle + log);
//   portkey  Portkey's open-source gateway (@portkey-ai/gateway 1.15.2), custom host = the fake.
// Measures: added latency (gateway − direct) at a FIXED rate (open loop, latency counted from the
// scheduled instant, so queueing is not hidden) and one request at a time; time to first byte of
// streams; RSS of the Custos process with N concurrent slow streams; overspend of a 1-cent key
// under 200 concurrent calls. Rounds alternate the order of the targets. Results go to
// bench/results/relay.md.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { compiledArgs } from '../support/compiled.js';
import { percentile, startBenchChild } from '../support/bench-child.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RATE = arg('rate', 500);
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 2);
const SERIAL = arg('serial', 300);
const STREAMS = arg('streams', 1000);
const PORTKEY_PORT = arg('portkey-port', 18787);
const labelAt = process.argv.indexOf('--label');
const LABEL = labelAt > 0 ? process.argv[labelAt + 1] : 'this checkout';
const OUT = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'bench/results/relay.md';
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' / ');

const upstream = await startBenchChild(compiledArgs('bench/relay/fake-upstream.ts'));
const fakeUrl = upstream.info.url as string;
const relay = await startBenchChild([...compiledArgs('bench/relay/relay-server.ts'), fakeUrl]);
const { port: relayPort, key, limitedKey } = relay.info as { port: number; key: string; limitedKey: string };
const portkey = spawn(process.execPath, ['node_modules/@portkey-ai/gateway/build/start-server.js', `--port=${PORTKEY_PORT}`, '--headless'], { stdio: ['ignore', 'ignore', 'ignore'] });

const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });
const fake = new URL(fakeUrl);

interface Target { name: string; port: number; path: string; headers: Record<string, string>; model: string }
const targets: Target[] = [
  { name: 'direct', port: Number(fake.port), path: '/v1/chat/completions', headers: { authorization: 'Bearer sk-bench' }, model: 'gpt-4o-mini' },
  { name: 'custos', port: relayPort, path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, model: 'openai/gpt-4o-mini' },
  { name: 'portkey', port: PORTKEY_PORT, path: '/v1/chat/completions', headers: { authorization: 'Bearer sk-bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${fakeUrl}/v1` }, model: 'gpt-4o-mini' },
];

function post(t: Target, body: Record<string, unknown>, onFirstByte?: () => void, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify({ model: t.model, ...body });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: t.port, path: t.path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...t.headers, ...headers } }, (res) => {
      let text = '';
      let first = true;
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (first) { first = false; onFirstByte?.(); } text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const ask = (content: string) => ({ messages: [{ role: 'user', content }] });
const median = (xs: number[]) => percentile(xs, 50);
const ms = (x: number) => x.toFixed(2);

async function waitForPortkey() {
  for (let i = 0; i < 100; i++) {
    const ok = await post(targets[2], ask('ping')).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('Portkey did not answer on port ' + PORTKEY_PORT);
}
await waitForPortkey();
for (const t of targets) {
  const r = await post(t, ask('warm'));
  if (r.status !== 200 || !r.text.includes('You said')) throw new Error(`${t.name} answered ${r.status}: ${r.text.slice(0, 200)}`);
}

async function fixedRate(t: Target, seconds: number) {
  const total = Math.round(RATE * seconds);
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Timers fire up to 1 ms early or late: a call sent late counts from its scheduled instant
    // (the generator's queueing is not hidden), one sent early from when it left (never < 0).
    const from = Math.min(scheduled, performance.now());
    inFlight.push(post(t, ask('bench')).then((r) => { latencies.push(performance.now() - from); if (r.status !== 200) errors++; }, () => { errors++; }));
  }
  await Promise.all(inFlight);
  return { p50: median(latencies), p99: percentile(latencies, 99), errors, achieved: total / ((performance.now() - start) / 1000) };
}

async function serial(t: Target, count: number) {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    await post(t, ask('bench')).catch(() => {});
    latencies.push(performance.now() - s);
  }
  return { p50: median(latencies), p99: percentile(latencies, 99) };
}

async function ttfb(t: Target, count: number) {
  const firsts: number[] = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    let first = NaN;
    await post(t, { ...ask('stream'), stream: true }, () => { first = performance.now() - s; }).catch(() => {});
    firsts.push(first);
  }
  return { p50: median(firsts), p99: percentile(firsts, 99) };
}

type Row = Record<string, { p50: number; p99: number; errors?: number; achieved?: number }>;
const rounds: Array<{ open: Row; serial: Row; ttfb: Row }> = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  const open: Row = {}; const ser: Row = {}; const first: Row = {};
  for (const t of order) ser[t.name] = await serial(t, SERIAL);
  for (const t of order) { await fixedRate(t, 1); open[t.name] = await fixedRate(t, SECONDS); }
  // As many streams as serial calls: a p99 over 200 samples is the second-slowest one.
  for (const t of order) first[t.name] = await ttfb(t, SERIAL);
  rounds.push({ open, serial: ser, ttfb: first });
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

// RSS of the Custos process with STREAMS concurrent slow streams (each ~0.6 s long).
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
await new Promise((r) => setTimeout(r, 500));
const rssBefore = rssOf(relay.child.pid!);
let rssPeak = rssBefore;
const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssOf(relay.child.pid!)); }, 25);
const failed = () => ({ status: 0, text: '' });
const streamResults = await Promise.all(Array.from({ length: STREAMS }, () => post(targets[1], { ...ask('[[slow:200]] concurrent'), stream: true }).catch(failed)));
clearInterval(sampler);
const streamsOk = streamResults.filter((r) => r.status === 200 && r.text.includes('[DONE]')).length;

// Overspend: 200 concurrent calls on the 1-cent key, each costing about what it reserves.
const limited = { ...targets[1], headers: { authorization: `Bearer ${limitedKey}` } };
const spendResults = await Promise.all(Array.from({ length: 200 }, () => post(limited, { model: 'openai/gpt-4o', max_tokens: 100, ...ask('[[tokens:100]] spend') }).catch(failed)));
// Settlements are written in batches after the answers: give the last batch time to land.
await new Promise((r) => setTimeout(r, 500));
const benchDb = createDb(withDatabaseName(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos', process.env.CUSTOS_BENCH_DATABASE ?? 'custos_bench_relay'), 1);
const spentRow = await benchDb.raw(`SELECT coalesce(sum(l.cost_microcents), 0)::bigint AS spent FROM relay_log l JOIN api_keys k ON k.id = l.api_key_id WHERE k.name = 'bench-limited'`);
await benchDb.destroy();
const spent = Number(spentRow.rows[0].spent);
const oneReservation = 100 * 1000 + Buffer.byteLength(JSON.stringify(ask('[[tokens:100]] spend').messages)) * 250 + 16 * 250;

for (const c of [relay.child, upstream.child, portkey]) c.kill('SIGTERM');
agent.destroy();

const loadAtEnd = loadavg().map((l) => l.toFixed(2)).join(' / ');
const cpu = cpus()[0]?.model ?? 'unknown';
const table = (pick: (r: (typeof rounds)[number]) => Row, label: string) => {
  const lines = [`| ${label} | round | direct p50 / p99 | custos p50 / p99 | portkey p50 / p99 | custos added p50 / p99 | portkey added p50 / p99 |`, '| --- | --- | --- | --- | --- | --- | --- |'];
  rounds.forEach((r, i) => {
    const x = pick(r);
    lines.push(`| ${label} | ${i + 1} | ${ms(x.direct.p50)} / ${ms(x.direct.p99)} | ${ms(x.custos.p50)} / ${ms(x.custos.p99)} | ${ms(x.portkey.p50)} / ${ms(x.portkey.p99)} | ${ms(x.custos.p50 - x.direct.p50)} / ${ms(x.custos.p99 - x.direct.p99)} | ${ms(x.portkey.p50 - x.direct.p50)} / ${ms(x.portkey.p99 - x.direct.p99)} |`);
  });
  return lines.join('\n');
};
const added = (pick: (r: (typeof rounds)[number]) => Row, target: string, p: 'p50' | 'p99') => median(rounds.map((r) => pick(r)[target][p] - pick(r).direct[p]));
const summary = {
  openAdded: { custos: [added((r) => r.open, 'custos', 'p50'), added((r) => r.open, 'custos', 'p99')], portkey: [added((r) => r.open, 'portkey', 'p50'), added((r) => r.open, 'portkey', 'p99')] },
  serialAdded: { custos: [added((r) => r.serial, 'custos', 'p50'), added((r) => r.serial, 'custos', 'p99')], portkey: [added((r) => r.serial, 'portkey', 'p50'), added((r) => r.serial, 'portkey', 'p99')] },
  ttfbAdded: { custos: [added((r) => r.ttfb, 'custos', 'p50'), added((r) => r.ttfb, 'custos', 'p99')], portkey: [added((r) => r.ttfb, 'portkey', 'p50'), added((r) => r.ttfb, 'portkey', 'p99')] },
};
const report = `# Relay benchmark

Run \`npx tsx bench/relay/relay.bench.ts --rate ${RATE} --seconds ${SECONDS} --rounds ${ROUNDS} --serial ${SERIAL} --streams ${STREAMS}\` on ${new Date().toISOString()}.
Machine: ${cpus().length} vCPU (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}; PostgreSQL and Redis on localhost.
Load average (1/5/15 min) at start ${loadAtStart}, at end ${loadAtEnd}. **The machine is shared with other helpers' builds and tests**:
the load generator, the fake upstream, Custos and Portkey all run on the same ${cpus().length} cores, so absolute figures are
inflated and noisy; compare the targets within a round (same moment, same upstream), not across runs.

Custos under test: ${LABEL}.
Targets: \`direct\` = the fake upstream itself (test/relay/fake-provider.ts, own process); \`custos\` = POST /v1/chat/completions
with an unlimited live key (see docs/relay.md, "Latency", for what the hot path does); \`portkey\` = @portkey-ai/gateway 1.15.2 (\`--headless\`, \`x-portkey-custom-host\` = the fake). "added" = target − direct.
All latencies in ms.

## Non-streaming, one request at a time (${SERIAL} requests per target per round)

${table((r) => r.serial, 'serial')}

## Non-streaming at a fixed ${RATE} req/s for ${SECONDS} s (open loop)

${table((r) => r.open, 'open loop')}

Errors / achieved rate per round: ${rounds.map((r, i) => `round ${i + 1}: ${Object.entries(r.open).map(([n, x]) => `${n} ${x.errors} errors, ${x.achieved?.toFixed(0)}/s`).join('; ')}`).join(' — ')}

## Streams: time to first byte (${SERIAL} sequential streams per target per round)

${table((r) => r.ttfb, 'TTFB')}

## Medians over rounds of the added latency

| | custos p50 / p99 | portkey p50 / p99 |
| --- | --- | --- |
| serial | ${ms(summary.serialAdded.custos[0])} / ${ms(summary.serialAdded.custos[1])} | ${ms(summary.serialAdded.portkey[0])} / ${ms(summary.serialAdded.portkey[1])} |
| ${RATE} req/s | ${ms(summary.openAdded.custos[0])} / ${ms(summary.openAdded.custos[1])} | ${ms(summary.openAdded.portkey[0])} / ${ms(summary.openAdded.portkey[1])} |
| stream TTFB | ${ms(summary.ttfbAdded.custos[0])} / ${ms(summary.ttfbAdded.custos[1])} | ${ms(summary.ttfbAdded.portkey[0])} / ${ms(summary.ttfbAdded.portkey[1])} |

## Memory with ${STREAMS} concurrent streams (Custos process)

RSS before ${rssBefore.toFixed(1)} MiB, peak ${rssPeak.toFixed(1)} MiB, growth **${(rssPeak - rssBefore).toFixed(1)} MiB** (target ≤ 100 MB); ${streamsOk}/${STREAMS} streams completed with [DONE].

## Overspend under 200 concurrent calls on a 1-cent key

${spendResults.filter((r) => r.status === 200).length} calls succeeded, ${spendResults.filter((r) => r.status === 402).length} were refused with 402; spent ${spent} micro-cents against a limit of 1,000,000:
overspend ${Math.max(0, spent - 1_000_000)} micro-cents (target: at most one reservation, ${oneReservation}).
`;
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, report);
process.stdout.write(report);
process.exit(0);
