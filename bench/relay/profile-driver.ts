// Profiling helper: starts the fake upstream and the Custos bench server (compiled, as shipped;
// with --cpu-prof when PROFILE_DIR is set), sends N serial calls (streamed with --stream), then
// stops both so the profile is written.
//   PROFILE_DIR=/tmp/prof npx tsx bench/relay/profile-driver.ts 3000 [--stream]
import http from 'node:http';
import { compiledArgs } from '../support/compiled.js';
import { startBenchChild } from '../support/bench-child.js';

const count = Number(process.argv[2] ?? 2000);
const profileDir = process.env.PROFILE_DIR;
const upstream = await startBenchChild(compiledArgs('bench/relay/fake-upstream.ts'));
const relay = await startBenchChild([...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...compiledArgs('bench/relay/relay-server.ts'), upstream.info.url as string]);
const { port, key } = relay.info as { port: number; key: string };
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const stream = process.argv.includes('--stream');
const payload = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'bench' }], ...(stream ? { stream: true } : {}) });
const once = () => new Promise<number>((resolve, reject) => {
  const started = performance.now();
  const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${key}` } }, (res) => {
    res.resume();
    res.on('end', () => resolve(performance.now() - started));
  });
  req.on('error', reject);
  req.end(payload);
});
const times: number[] = [];
for (let i = 0; i < count; i++) times.push(await once());
times.sort((a, b) => a - b);
process.stdout.write(`serial ${count}: p50 ${times[Math.floor(count / 2)].toFixed(3)} ms, p99 ${times[Math.floor(count * 0.99)].toFixed(3)} ms\n`);
agent.destroy();
for (const c of [relay.child, upstream.child]) c.kill('SIGTERM');
await new Promise((r) => relay.child.once('exit', r));
