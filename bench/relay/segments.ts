// Where a relayed call's time goes, and where its slowest calls lose it. Serial calls go in a
// new random order each iteration to the fake upstream itself (direct), to a Custos bench server
// and, with --floor, to the do-nothing forwarder (node-floor.ts). Every process records its side
// of each call with segment-recorder.ts, so each call splits into the time spent inside a process
// and the hops between processes (a write in one, its read in the next: loopback TCP, and the
// wake-up of a process that was asleep or waiting for a CPU):
//   client -> gateway | in gateway, before the provider | gateway -> fake | in fake |
//   fake -> gateway | in gateway, after the provider | gateway -> client
// The table gives each segment's p50 and p99 over all calls, and its share of the time of that
// target's slowest 1% of calls: what the tail is made of. The time is the answer's end for
// whole calls, its first body byte with --stream (TTFB), as in relay.bench.ts.
//   npx tsx bench/relay/segments.ts <iterations> [--floor] [--stream]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, startBenchChild, type BenchChild } from '../support/bench-child.js';
import { compiledArgs } from '../support/compiled.js';
import { nowUs, type ServedRequest } from './segment-recorder.js';

const count = Number(process.argv[2]);
const floor = process.argv.includes('--floor');
const stream = process.argv.includes('--stream');
if (!count) throw new Error('usage: segments.ts <iterations> [--floor] [--stream]');
const warmUp = 200;
const dir = mkdtempSync(join(tmpdir(), 'custos-segments-'));

type Child = BenchChild & { recordFile: string };
/** A bench process that records its segments into a file of its own. */
async function startChild(name: string, args: string[], env: Record<string, string> = {}): Promise<Child> {
  const recordFile = join(dir, `${name}.json`);
  return { ...(await startBenchChild(args, { env: { ...env, CUSTOS_BENCH_SEGMENTS: recordFile } })), recordFile };
}

const fake = await startChild('fake', compiledArgs('bench/relay/fake-upstream.ts'));
const fakeUrl = fake.info.url as string;
const custos = await startChild('custos', [...compiledArgs('bench/relay/relay-server.ts'), fakeUrl], { CUSTOS_BENCH_DATABASE: 'custos_bench_segments' });
const gateways = [{ name: 'custos', process: custos, port: Number(custos.info.port), auth: `Bearer ${custos.info.key as string}`, model: 'openai/gpt-4o-mini' }];
if (floor) {
  const forwarder = await startChild('floor', [...compiledArgs('bench/relay/node-floor.ts'), fakeUrl]);
  gateways.push({ name: 'node floor', process: forwarder, port: Number(forwarder.info.port), auth: 'Bearer unused', model: 'openai/gpt-4o-mini' });
}
const targets = [{ name: 'direct', port: Number(new URL(fakeUrl).port), auth: 'Bearer sk-bench', model: 'gpt-4o-mini' }, ...gateways];

interface Call { target: string; sent: number; answered: number }
const calls: Call[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const send = (t: (typeof targets)[number]) => new Promise<void>((resolve, reject) => {
  const body = JSON.stringify({ model: t.model, max_tokens: 1, messages: [{ role: 'user', content: 'bench' }], ...(stream ? { stream: true } : {}) });
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: t.auth };
  const call: Call = { target: t.name, sent: nowUs(), answered: NaN };
  const req = http.request({ host: '127.0.0.1', port: t.port, path: '/v1/chat/completions', method: 'POST', agent, headers }, (res) => {
    if (res.statusCode !== 200) reject(new Error(`${t.name} answered ${res.statusCode}`));
    if (stream) res.once('data', () => { call.answered = nowUs(); });
    res.resume();
    res.on('end', () => {
      if (!stream) call.answered = nowUs();
      calls.push(call);
      resolve();
    });
  });
  req.on('error', reject);
  req.end(body);
});

const loadBefore = loadavg()[0].toFixed(2);
for (let i = 0; i < warmUp + count; i++) for (const t of [...targets].sort(() => Math.random() - 0.5)) await send(t);
agent.destroy();
const servers = [fake, ...gateways.map((g) => g.process)];
const exited = servers.map((c) => new Promise((r) => c.child.once('exit', r)));
for (const c of servers) c.child.kill('SIGTERM');
await Promise.all(exited);

const records = (c: Child) => JSON.parse(readFileSync(c.recordFile, 'utf8')) as ServedRequest[];
const fakeSide = records(fake);
if (fakeSide.length !== calls.length) throw new Error(`the fake saw ${fakeSide.length} requests for ${calls.length} calls`);
const gatewaySide = new Map(gateways.map((g) => [g.name, records(g.process)]));
const seen = new Map<string, number>();
type Segments = Record<string, number>;
const rows = new Map<string, Segments[]>(targets.map((t) => [t.name, []]));
calls.forEach((call, index) => {
  const nth = seen.get(call.target) ?? 0;
  seen.set(call.target, nth + 1);
  if (nth < warmUp) return;
  const f = fakeSide[index];
  const ms = (from: number, to: number) => (to - from) / 1000;
  const g = gatewaySide.get(call.target)?.[nth];
  const segments: Segments = g
    ? {
      'client -> gateway': ms(call.sent, g.arrived),
      'in gateway, before the provider': ms(g.arrived, g.forwarded!),
      'gateway -> fake': ms(g.forwarded!, f.arrived),
      'in fake': ms(f.arrived, f.firstByteOut!),
      'fake -> gateway': ms(f.firstByteOut!, g.providerHeaders!),
      'in gateway, after the provider': ms(g.providerHeaders!, g.firstByteOut!),
      'gateway -> client': ms(g.firstByteOut!, call.answered),
    }
    : { 'client -> fake': ms(call.sent, f.arrived), 'in fake': ms(f.arrived, f.firstByteOut!), 'fake -> client': ms(f.firstByteOut!, call.answered) };
  rows.get(call.target)!.push({ total: ms(call.sent, call.answered), ...segments });
});
rmSync(dir, { recursive: true, force: true });

const inGateway = (s: Segments) => (s['in gateway, before the provider'] ?? 0) + (s['in gateway, after the provider'] ?? 0);
process.stdout.write(`${new Date().toISOString()}, load (1 min) ${loadBefore} -> ${loadavg()[0].toFixed(2)}, ${count} interleaved serial ${stream ? 'streams (time to first byte)' : 'calls'} per target (ms)\n\n`);
process.stdout.write('| target | segment | p50 | p99 | share of the slowest 1% |\n| --- | --- | --- | --- | --- |\n');
for (const [name, list] of rows) {
  const slowest = [...list].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(list.length / 100)));
  const sum = (value: (s: Segments) => number) => slowest.reduce((total, s) => total + value(s), 0);
  const share = (value: (s: Segments) => number) => `${((100 * sum(value)) / sum((s) => s.total)).toFixed(0)}%`;
  const columns = (value: (s: Segments) => number) => {
    const values = list.map(value);
    return `${percentile(values, 50).toFixed(3)} | ${percentile(values, 99).toFixed(3)} | ${share(value)}`;
  };
  for (const segment of Object.keys(list[0])) process.stdout.write(`| ${name} | ${segment} | ${columns((s) => s[segment])} |\n`);
  if (name !== 'direct') process.stdout.write(`| ${name} | all time in the gateway | ${columns(inGateway)} |\n`);
}
process.exit(0);
