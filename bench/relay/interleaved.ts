// Before/after comparison that survives a busy machine: one fake upstream and a Custos bench
// server (bench/relay/relay-server.ts, from the checkout's compiled build) per checkout, then
// serial non-streaming calls to the fake itself and to every server, in a new random order each
// iteration, so every target sees the same moments of load from neighbours. relay.bench.ts runs
// its targets one after another (300 calls each), which at load 8-11 on 2 cores moves a target's
// p50 by several ms from one round to the next; interleaving does not.
//   npx tsx bench/relay/interleaved.ts <iterations> <name>=<checkout dir> [<name>=<dir> ...] [--limited] [--floor] [--stream]
// --limited adds each server's 1-cent key (spend reservation on the path; 402s count as answers).
// --floor adds bench/relay/node-floor.ts, the least a Node gateway does (no auth, validation or
// accounting): the added latency no Node relay can go under on this machine, in the same minutes.
// --stream sends streamed calls and times the first byte of the answer's body (TTFB) instead.
// Prints p50/p99 per target, added latency over the fake, and each server's CPU per call
// (user + system, from /proc, so threads and GC included).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { compiledArgs } from '../support/compiled.js';
import { percentile, startBenchChild } from '../support/bench-child.js';

const count = Number(process.argv[2]);
const limited = process.argv.includes('--limited');
const floor = process.argv.includes('--floor');
const stream = process.argv.includes('--stream');
const variants = process.argv.slice(3).filter((a) => a.includes('=')).map((a) => a.split('=') as [string, string]);
if (!count || variants.length === 0) throw new Error('usage: interleaved.ts <iterations> <name>=<dir> [...] [--limited]');

interface Target { name: string; port: number; auth: string; model: string; pid?: number }
const upstream = await startBenchChild(compiledArgs('bench/relay/fake-upstream.ts'));
const children = [upstream.child];
const targets: Target[] = [{ name: 'direct', port: Number(new URL(upstream.info.url as string).port), auth: 'Bearer sk-bench', model: 'gpt-4o-mini' }];
for (const [name, dir] of variants) {
  const server = await startBenchChild([...compiledArgs('bench/relay/relay-server.ts', dir), upstream.info.url as string], { cwd: dir, env: { CUSTOS_BENCH_DATABASE: `custos_bench_interleaved_${name.replace(/\W/g, '_')}` } });
  children.push(server.child);
  const { port, key, limitedKey } = server.info as { port: number; key: string; limitedKey: string };
  targets.push({ name, port, auth: `Bearer ${key}`, model: 'openai/gpt-4o-mini', pid: server.child.pid });
  if (limited) targets.push({ name: `${name} (limited key)`, port, auth: `Bearer ${limitedKey}`, model: 'openai/gpt-4o-mini' });
}
if (floor) {
  const proxy = await startBenchChild([...compiledArgs('bench/relay/node-floor.ts'), upstream.info.url as string]);
  children.push(proxy.child);
  targets.push({ name: 'node floor', port: (proxy.info as { port: number }).port, auth: 'Bearer unused', model: 'openai/gpt-4o-mini', pid: proxy.child.pid });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const payload = (model: string) => JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'bench' }], ...(stream ? { stream: true } : {}) });
const call = (t: Target) => new Promise<number>((resolve, reject) => {
  const body = payload(t.model);
  const started = performance.now();
  const req = http.request({ host: '127.0.0.1', port: t.port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: t.auth } }, (res) => {
    if (res.statusCode !== 200 && res.statusCode !== 402) reject(new Error(`${t.name} answered ${res.statusCode}`));
    let first = NaN;
    res.once('data', () => { first = performance.now() - started; });
    res.resume();
    res.on('end', () => resolve(stream ? first : performance.now() - started));
  });
  req.on('error', reject);
  req.end(body);
});
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
};

for (let i = 0; i < 200; i++) for (const t of targets) await call(t); // warm-up (JIT, caches, pools)
const loadBefore = loadavg()[0].toFixed(2);
const cpuBefore = new Map(targets.filter((t) => t.pid).map((t) => [t.name, cpuMs(t.pid!)]));
const times = new Map(targets.map((t) => [t.name, [] as number[]]));
for (let i = 0; i < count; i++) {
  for (const t of [...targets].sort(() => Math.random() - 0.5)) times.get(t.name)!.push(await call(t));
}
const callsPerServer = limited ? 2 * count : count;
const cpuPerCall = new Map(targets.filter((t) => t.pid).map((t) => [t.name, ((cpuMs(t.pid!) - cpuBefore.get(t.name)!) * 1000) / callsPerServer]));
const direct = times.get('direct')!;
process.stdout.write(`${new Date().toISOString()}, load (1 min) ${loadBefore} -> ${loadavg()[0].toFixed(2)}, ${count} interleaved serial ${stream ? 'streams (time to first byte)' : 'calls'} per target (ms)\n`);
process.stdout.write('| target | p50 / p99 | added p50 / p99 | server CPU per call |\n| --- | --- | --- | --- |\n');
for (const [name, xs] of times) {
  const cpu = cpuPerCall.get(name);
  process.stdout.write(`| ${name} | ${percentile(xs, 50).toFixed(2)} / ${percentile(xs, 99).toFixed(2)} | ${(percentile(xs, 50) - percentile(direct, 50)).toFixed(2)} / ${(percentile(xs, 99) - percentile(direct, 99)).toFixed(2)} | ${cpu === undefined ? '' : `${cpu.toFixed(0)} µs`} |\n`);
}
agent.destroy();
for (const child of children.reverse()) child.kill('SIGTERM');
process.exit(0);
