// What a relayed call leaves to V8's garbage collector: each target (a Custos bench server per
// checkout, and with --floor the do-nothing forwarder) runs under --trace-gc-nvp while it serves
// serial calls (streamed with --stream), and the young-generation collections (scavenges) that
// fall inside the timed calls are summed: bytes promoted to the old generation per call (what a
// later full GC must collect), scavenge pause per call, and the median pause (the event loop
// stops for it).
// Objects that outlive one call by mistake show up here long before they show in latency. The
// last column is what GC does to the tail: of the slowest 1% of calls, the share during which (or
// within 2 ms after which, as a trace line arrives a moment late) a scavenge was reported.
//   npx tsx bench/relay/gc-trace.ts <calls> <name>=<checkout dir> [<name>=<dir> ...] [--floor] [--stream]
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { compiledArgs } from '../support/compiled.js';

const count = Number(process.argv[2]);
const variants = process.argv.slice(3).filter((a) => a.includes('=')).map((a) => a.split('=') as [string, string]);
if (!count || variants.length === 0) throw new Error('usage: gc-trace.ts <calls> <name>=<dir> [...] [--floor]');

interface Scavenge { at: number; promoted: number; pause: number }
/** A child whose first stdout line is its JSON info; later lines are kept (GC traces) with their arrival time. */
function startChild(args: string[], cwd: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const scavenges: Scavenge[] = [];
  return new Promise<{ child: ChildProcess; info: Record<string, unknown>; scavenges: Scavenge[] }>((resolve, reject) => {
    let started = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!started && line.startsWith('{')) {
        started = true;
        resolve({ child, info: JSON.parse(line), scavenges });
      } else if (line.includes('gc=s ')) {
        const field = (name: string) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
        scavenges.push({ at: performance.now(), promoted: field('promoted'), pause: field('pause') });
      }
    });
    child.once('exit', (code) => { if (!started) reject(new Error(`${args.join(' ')} exited with ${code}`)); });
  });
}

const upstream = await startChild(compiledArgs('bench/relay/fake-upstream.ts'), process.cwd());
const targets: Array<{ name: string; port: number; auth: string; child: ChildProcess; scavenges: Scavenge[] }> = [];
for (const [name, dir] of variants) {
  const server = await startChild(['--trace-gc-nvp', ...compiledArgs('bench/relay/relay-server.ts', dir), upstream.info.url as string], dir, { CUSTOS_BENCH_DATABASE: `custos_bench_gctrace_${name.replace(/\W/g, '_')}` });
  targets.push({ name, port: server.info.port as number, auth: `Bearer ${server.info.key}`, child: server.child, scavenges: server.scavenges });
}
if (process.argv.includes('--floor')) {
  const floor = await startChild(['--trace-gc-nvp', ...compiledArgs('bench/relay/node-floor.ts'), upstream.info.url as string], process.cwd());
  targets.push({ name: 'node floor', port: floor.info.port as number, auth: 'Bearer unused', child: floor.child, scavenges: floor.scavenges });
}

const stream = process.argv.includes('--stream');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model: 'openai/gpt-4o-mini', max_tokens: 1, messages: [{ role: 'user', content: 'How many moons does Neptune have?' }], ...(stream ? { stream: true } : {}) });
const call = (port: number, auth: string) => new Promise<void>((resolve, reject) => {
  const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: auth } }, (res) => {
    if (res.statusCode !== 200) reject(new Error(`answered ${res.statusCode}`));
    res.resume();
    res.on('end', resolve);
  });
  req.on('error', reject);
  req.end(body);
});

process.stdout.write(`${new Date().toISOString()}, load (1 min) ${loadavg()[0].toFixed(2)}, ${count} serial ${stream ? 'streamed' : 'non-streaming'} calls per target after 300 to warm up\n`);
process.stdout.write('| target | scavenges | promoted per call | scavenge pause per call | median scavenge pause | slowest 1% with a scavenge |\n| --- | --- | --- | --- | --- | --- |\n');
for (const t of targets) {
  for (let i = 0; i < 300; i++) await call(t.port, t.auth);
  const from = performance.now();
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call(t.port, t.auth);
    spans.push([started, performance.now()]);
  }
  // A trace line arrives a moment after its scavenge: give the last ones time to come in.
  await new Promise((r) => setTimeout(r, 200));
  const inside = t.scavenges.filter((s) => s.at >= from);
  const pauses = inside.map((s) => s.pause).sort((a, b) => a - b);
  const promoted = inside.reduce((sum, s) => sum + s.promoted, 0) / count / 1024;
  const pausePerCall = (inside.reduce((sum, s) => sum + s.pause, 0) * 1000) / count;
  const slowest = [...spans].sort((a, b) => (b[1] - b[0]) - (a[1] - a[0])).slice(0, Math.ceil(count / 100));
  const withScavenge = slowest.filter(([from, to]) => inside.some((s) => s.at >= from && s.at <= to + 2)).length;
  process.stdout.write(`| ${t.name} | ${inside.length} | ${promoted.toFixed(2)} KiB | ${pausePerCall.toFixed(1)} µs | ${(pauses[Math.floor(pauses.length / 2)] ?? 0).toFixed(2)} ms | ${withScavenge} of ${slowest.length} |\n`);
}
agent.destroy();
for (const child of [...targets.map((t) => t.child), upstream.child]) child.kill('SIGTERM');
process.exit(0);
