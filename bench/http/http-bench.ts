// Benchmark of the HTTP stack (issue 15): what Custos costs over bare Express on routes that do
// (almost) nothing, so the platform's per-request work is what is measured.
// Run: npx tsx bench/http/http-bench.ts [--rounds 3] [--seconds 5] [--connections 16] [--out bench/results/http.md]
//        [--cpu-prof DIR]   (profile the `custos serve` process; written when it exits)
//        [--compare DIR]    (also run `custos serve` from another checkout, e.g. a worktree of main, as
//                            "baseline" targets in the same rounds: before/after in the same minutes)
//        [--only NAME]      (drive only the Custos target whose name contains NAME, e.g. `--only healthz`,
//                            so a profile holds one route; no ratios then)
// Needs wrk (`sh bench/setup.sh` installs it: apt-get install -y wrk), PostgreSQL and Redis as for the tests.
// It creates its own database, registers one user and opens a session for it, then starts
// `custos serve` (node dist/src/cli.js serve: tsc's output, as the image runs it, built by
// bench/support/compiled.ts; log level info with stdout to /dev/null, so a log line per request
// is still written) and a bare Express 5 control (bare-express.ts), and
// runs wrk against /healthz on both and an authenticated GET /api/v1/me on Custos, interleaved
// in rounds so load changes hit every target alike. Medians of the rounds, load average per round.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { compiledArgs } from '../support/compiled.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const ROUNDS = Number(arg('rounds', '3'));
const SECONDS = Number(arg('seconds', '5'));
const CONNECTIONS = Number(arg('connections', '16'));
const OUT = arg('out', 'bench/results/http.md');
const CPU_PROF = arg('cpu-prof', '');
const ONLY = arg('only', '');
const COMPARE = arg('compare', '');
const DB = 'custos_bench_http';
const CUSTOS_PORT = 18_480;
const BARE_PORT = 18_481;
const COMPARE_PORT = 18_482;
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const env = { ...process.env, ...generateSecrets(), NODE_ENV: 'development', CUSTOS_VALIDATE_RESPONSES: 'false', DATABASE_URL: withDatabaseName(base, DB), CUSTOS_QUEUE_PREFIX: 'custos_bench_http',
  CUSTOS_LOG_LEVEL: 'info', CUSTOS_ARTIFACT_DIR: '.local/bench-artifacts/http', HOST: '127.0.0.1', PORT: String(CUSTOS_PORT) };

try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' });
} catch (error) {
  // wrk --version exits 1 after printing; only a missing binary is fatal.
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('wrk is not installed: sh bench/setup.sh (apt-get install -y wrk)');
}

const admin = createDb(withDatabaseName(base, 'postgres'), 1);
await admin.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await admin.raw(`CREATE DATABASE "${DB}"`);
await admin.destroy();
await migrateDatabase(loadConfig(env)); // owner connection; it also creates the runtime role serve runs as
const container = createContainer(loadConfig(env));
const email = 'http-bench@custos.test';
const password = 'Tangerine-Harbour-Quill-42';
await container.accounts.register(email, password);
const { token } = await container.accounts.loginUser({ email, password, ip: '127.0.0.1' });
await container.close();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(url: string) {
  for (let i = 0; i < 300; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}
function start(args: string[], cwd = process.cwd(), extraEnv: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, args, { cwd, env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
}
async function stop(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const custos = start([...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), ...compiledArgs('src/cli.ts'), 'serve']);
const bare = start([...compiledArgs('bench/http/bare-express.ts'), String(BARE_PORT)]);
await waitFor(`http://127.0.0.1:${CUSTOS_PORT}/healthz`);
await waitFor(`http://127.0.0.1:${BARE_PORT}/healthz`);
// The other checkout serves the same database (its migrations must be the same) with the same settings.
const baseline = COMPARE ? start([...compiledArgs('src/cli.ts', COMPARE), 'serve'], COMPARE, { PORT: String(COMPARE_PORT) }) : undefined;
if (baseline) await waitFor(`http://127.0.0.1:${COMPARE_PORT}/healthz`);
const me = await fetch(`http://127.0.0.1:${CUSTOS_PORT}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
if (me.status !== 200) throw new Error(`GET /api/v1/me answered ${me.status}`);

interface Target { name: string; url: string; headers: string[]; server: ChildProcess }
const targets: Target[] = [
  { name: 'bare Express /healthz', url: `http://127.0.0.1:${BARE_PORT}/healthz`, headers: [], server: bare },
  { name: 'Custos /healthz', url: `http://127.0.0.1:${CUSTOS_PORT}/healthz`, headers: [], server: custos },
  { name: 'Custos GET /api/v1/me (session)', url: `http://127.0.0.1:${CUSTOS_PORT}/api/v1/me`, headers: ['-H', `Authorization: Bearer ${token}`], server: custos },
  ...(baseline ? [
    { name: 'baseline /healthz', url: `http://127.0.0.1:${COMPARE_PORT}/healthz`, headers: [], server: baseline },
    { name: 'baseline GET /api/v1/me', url: `http://127.0.0.1:${COMPARE_PORT}/api/v1/me`, headers: ['-H', `Authorization: Bearer ${token}`], server: baseline },
  ] : []),
];

// CPU time (user + system) of a process, in seconds, from /proc: on a shared machine, CPU per
// request moves much less with other people's load than requests per second do.
const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
const cpuSeconds = (pid: number) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return 0; // exited
  }
};
// The PostgreSQL backends serving the benchmark's database (the server's pool), by pid.
const observer = createDb(withDatabaseName(base, 'postgres'), 1);
const backendCpu = async () => {
  const { rows } = await observer.raw('SELECT pid FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()', [DB]);
  return new Map<number, number>(rows.map((r: { pid: number }) => [r.pid, cpuSeconds(r.pid)]));
};

async function wrk(target: Target, seconds: number) {
  const serverBefore = cpuSeconds(target.server.pid!);
  const pgBefore = await backendCpu();
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...target.headers, target.url], { encoding: 'utf8' });
  const serverCpu = cpuSeconds(target.server.pid!) - serverBefore;
  let pgCpu = 0;
  for (const [pid, cpu] of await backendCpu()) pgCpu += cpu - (pgBefore.get(pid) ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (non2xx) throw new Error(`${target.name}: ${non2xx} non-2xx responses`);
  // µs of CPU per request: the server process, and PostgreSQL's backends for it.
  return { requests, rps, p50, p99, serverUs: (serverCpu / requests) * 1e6, pgUs: (pgCpu / requests) * 1e6 };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
if (ONLY) {
  // Profiling one route: warm it up, drive it, print its figures, and stop (the profile is written on exit).
  const target = targets.slice(1).find((t) => t.name.includes(ONLY));
  if (!target) throw new Error(`--only ${ONLY}: no such Custos target`);
  await wrk(target, 2);
  for (let round = 0; round < ROUNDS; round += 1) {
    const r = await wrk(target, SECONDS);
    process.stdout.write(`${target.name}: ${r.rps.toFixed(0)}/s, ${r.serverUs.toFixed(0)}+${r.pgUs.toFixed(0)} µs CPU per request (load ${loadavg()})\n`);
  }
  await stop(custos);
  await stop(bare);
  if (baseline) await stop(baseline);
  await observer.destroy();
  process.exit(0);
}
// Warm up every target (JIT, session cache) before anything is recorded.
for (const target of targets) await wrk(target, 2);
const rounds: Array<{ load: string; results: Array<Awaited<ReturnType<typeof wrk>>> }> = [];
for (let round = 0; round < ROUNDS; round += 1) {
  const load = loadavg();
  const results = [];
  for (const target of targets) results.push(await wrk(target, SECONDS));
  rounds.push({ load, results });
  process.stdout.write(`round ${round + 1}: ${rounds[round].results.map((r, i) => `${targets[i].name} ${r.rps.toFixed(0)}/s (${r.serverUs.toFixed(0)}+${r.pgUs.toFixed(0)} µs CPU)`).join(', ')} (load ${load})\n`);
}
await stop(custos);
await stop(bare);
if (baseline) await stop(baseline);
await observer.destroy();

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const ratio = (round: (typeof rounds)[number], i: number) => round.results[i].rps / round.results[0].rps;
const ratioColumns = baseline ? ' baseline /healthz ratio | baseline /me ratio |' : '';
const ratioCells = (r: (typeof rounds)[number]) => (baseline ? ` ${ratio(r, 3).toFixed(2)}× | ${ratio(r, 4).toFixed(2)}× |` : '');
const ratioMedians = baseline ? ` **${median(rounds.map((r) => ratio(r, 3))).toFixed(2)}×** | **${median(rounds.map((r) => ratio(r, 4))).toFixed(2)}×** |` : '';
const lines = [
  `Command: \`npx tsx bench/http/http-bench.ts --rounds ${ROUNDS} --seconds ${SECONDS} --connections ${CONNECTIONS}\` (wrk -t1 -c${CONNECTIONS} -d${SECONDS}s per target per round)`,
  `Machine: nproc ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, shared with other engineers' test runs; ${new Date().toISOString()}; load average at the end ${loadavg()}`,
  '',
  `| round | load (1/5/15 min) | ${targets.map((t) => `${t.name} req/s (p50, p99)`).join(' | ')} | /healthz ratio (goal ≥ 0.7×) | /api/v1/me ratio (goal ≥ 0.4×) |${ratioColumns}`,
  `| --- | --- | ${targets.map(() => '---').join(' | ')} | --- | --- |${baseline ? ' --- | --- |' : ''}`,
  ...rounds.map((r, n) => `| ${n + 1} | ${r.load} | ${r.results.map((x) => `${x.rps.toFixed(0)} (${x.p50}, ${x.p99})`).join(' | ')} | ${ratio(r, 1).toFixed(2)}× | ${ratio(r, 2).toFixed(2)}× |${ratioCells(r)}`),
  `| **median** | | ${targets.map((_, i) => `**${median(rounds.map((r) => r.results[i].rps)).toFixed(0)}**`).join(' | ')} | **${median(rounds.map((r) => ratio(r, 1))).toFixed(2)}×** | **${median(rounds.map((r) => ratio(r, 2))).toFixed(2)}×** |${ratioMedians}`,
  '',
  'CPU per request (µs, user + system, from /proc; medians of the rounds): the server process, and PostgreSQL backends serving it.',
  '',
  `| | ${targets.map((t) => t.name).join(' | ')} |`,
  `| --- | ${targets.map(() => '---').join(' | ')} |`,
  `| server process | ${targets.map((_, i) => median(rounds.map((r) => r.results[i].serverUs)).toFixed(0)).join(' | ')} |`,
  `| PostgreSQL backends | ${targets.map((_, i) => median(rounds.map((r) => r.results[i].pgUs)).toFixed(0)).join(' | ')} |`,
];
process.stdout.write(`${lines.join('\n')}\n`);
mkdirSync('bench/results', { recursive: true });
writeFileSync(OUT, `${lines.join('\n')}\n`);
const cleanup = createDb(withDatabaseName(base, 'postgres'), 1);
await cleanup.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await cleanup.destroy();
