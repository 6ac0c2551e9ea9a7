// Export throughput against the number of `custos worker` processes (issue 11: "exports per
// minute with 1 and 2 workers on this machine, and the ratio").
// Run: npx tsx bench/scaleout/exports-per-worker.ts [--users 24] [--messages 1000] [--files 2] [--runs 2]
//        [--out bench/results/scaleout.md]
// Seeds N users with realistic, deterministic content (bench/privacy/realistic-data.ts: messages
// of varied words and lengths, files txt/md/csv/pdf uploaded through the chat service), then, per
// batch, starts W real worker processes (node --import tsx src/cli.ts worker, export concurrency 1
// each), queues one export per user the way the API does (request row, then the job with the
// request's id) and times until every request is completed. Batches alternate 1, 2, 1, 2 … so a
// change of the machine's load hits both counts alike. Exports/min = N / (last completed_at −
// enqueue time). Also checks that every request ran exactly once (attempts = 1).
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, freemem, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { libraryFile, messageText, prng } from '../privacy/realistic-data.js';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const USERS = Number(arg('users', '24'));
const MESSAGES = Number(arg('messages', '1000'));
const FILES = Number(arg('files', '2'));
const RUNS = Number(arg('runs', '2'));
const OUT = arg('out', 'bench/results/scaleout.md');
const DB = 'custos_bench_scaleout';
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const url = withDatabaseName(base, DB);
Object.assign(process.env, {
  NODE_ENV: 'test', DATABASE_URL: url, CUSTOS_QUEUE_PREFIX: 'custos_bench_scaleout', CUSTOS_LOG_LEVEL: 'silent',
  CUSTOS_ARTIFACT_DIR: '.local/bench-scaleout-artifacts', ...generateSecrets(),
});

const admin = createDb(withDatabaseName(base, 'postgres'), 1);
await admin.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await admin.raw(`CREATE DATABASE "${DB}"`);
await admin.destroy();
await migrateDatabase(loadConfig(process.env));
const c = createContainer(loadConfig(process.env));
const { db, fieldCipher, queues, redis } = c.platform;
for (const key of await redis.keys('custos_bench_scaleout:*')) await redis.del(key);

const lines: string[] = [];
const say = (s: string) => { lines.push(s); process.stdout.write(`${s}\n`); };
const load = () => execSync('uptime').toString().trim().replace(/^.*load average: /, '');
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ticksPerSecond = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;
/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
};
/** Busy and total jiffies of the whole machine, from /proc/stat. */
const machineTicks = () => {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = values.map(Number);
  return { idle: n[3] + n[4], total: n.reduce((a, b) => a + b, 0) };
};

say(`# Scale-out benchmark: exports per minute with 1 and 2 workers\n\nCommand: \`npx tsx bench/scaleout/exports-per-worker.ts --users ${USERS} --messages ${MESSAGES} --files ${FILES} --runs ${RUNS}\``);
say(`Machine: nproc ${cpus().length} (${cpus()[0]?.model ?? '?'}), memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB), Node ${process.version}, PostgreSQL and Redis on localhost; `
  + `shared with other engineers' test runs (load average at start: ${load()}). ${new Date().toISOString()}\n`);

// ---- seed ----
const s0 = Date.now();
const users: string[] = [];
for (let u = 0; u < USERS; u += 1) {
  const user = await c.accounts.register(`exporter${u}-${randomUUID()}@bench.test`, `Bench-password-${randomUUID()}`);
  const conversation = await c.chat.createChat(user.id, `chat of user ${u}`);
  const random = prng(1000 + u);
  const rows = await Promise.all(Array.from({ length: MESSAGES }, async (_, k) => {
    const id = randomUUID();
    const role = k % 2 ? 'assistant' : 'user';
    return { id, chat_id: conversation.id, user_id: user.id, role, content_enc: await fieldCipher.encryptText(user.id, { table: 'messages', column: 'content_enc', rowId: id }, messageText(random, role)) };
  }));
  for (let i = 0; i < rows.length; i += 1000) await db('messages').insert(rows.slice(i, i + 1000));
  for (let f = 0; f < FILES; f += 1) await c.chat.uploadFile(user.id, await libraryFile(random, u * FILES + f));
  users.push(user.id);
}
say(`Seeded ${USERS} users × (${MESSAGES} messages + ${FILES} files) in ${((Date.now() - s0) / 1000).toFixed(1)} s.\n`);

// ---- batches ----
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], { env: { ...process.env, CUSTOS_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => { out += d; if (out.includes('"msg":"workers started"')) resolve(); });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out.slice(-1000)}`)));
  });
  child.stdout!.resume();
  return child;
}
async function stopWorker(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function batch(workers: number) {
  const started = await Promise.all(Array.from({ length: workers }, startWorker));
  await sleep(2000); // let the workers settle (connections, first poll) before the clock starts
  const ids: string[] = [];
  for (const userId of users) {
    const id = randomUUID();
    await db('privacy_requests').insert({ id, user_id: userId, type: 'export', state: 'received', due_at: new Date(Date.now() + 30 * 86_400_000),
      passphrase_enc: await fieldCipher.encryptText(userId, { table: 'privacy_requests', column: 'passphrase_enc', rowId: id }, 'bench passphrase 123') });
    ids.push(id);
  }
  const loadAt = load();
  const cpu0 = started.map((w) => cpuSeconds(w.pid!));
  const machine0 = machineTicks();
  const t0 = new Date();
  for (const id of ids) await queues.enqueue('privacy-export', id, { requestId: id });
  let rows;
  for (;;) {
    rows = await db('privacy_requests').whereIn('id', ids).select('state', 'attempts', 'started_at', 'completed_at', 'plaintext_bytes', 'last_error');
    if (rows.every((r) => ['completed', 'failed'].includes(r.state))) break;
    await sleep(250);
  }
  const workerCpu = started.reduce((sum, w, i) => sum + cpuSeconds(w.pid!) - cpu0[i], 0);
  const machine1 = machineTicks();
  await Promise.all(started.map(stopWorker));
  const failed = rows.filter((r) => r.state !== 'completed');
  if (failed.length) throw new Error(`${failed.length} exports failed: ${failed[0].last_error}`);
  const last = Math.max(...rows.map((r) => r.completed_at.getTime()));
  const seconds = (last - t0.getTime()) / 1000;
  const perExport = rows.map((r) => (r.completed_at.getTime() - r.started_at.getTime()) / 1000);
  return {
    workers, seconds, perMinute: (USERS * 60) / seconds, medianExportS: median(perExport),
    plaintextMiB: rows.reduce((s, r) => s + Number(r.plaintext_bytes), 0) / 2 ** 20,
    attempts: [...new Set(rows.map((r) => r.attempts))].join(','), loadAt, loadAfter: load(),
    workerCores: workerCpu / ((Date.now() - t0.getTime()) / 1000),
    machineBusy: 1 - (machine1.idle - machine0.idle) / (machine1.total - machine0.total),
  };
}

const results: Array<Awaited<ReturnType<typeof batch>>> = [];
for (let run = 0; run < RUNS; run += 1) {
  for (const workers of [1, 2]) {
    const r = await batch(workers);
    results.push(r);
    process.stdout.write(`run ${run + 1}, ${workers} worker(s): ${r.perMinute.toFixed(1)} exports/min (${r.seconds.toFixed(1)} s for ${USERS}; load ${r.loadAt} → ${r.loadAfter})\n`);
  }
}

say('## Batches (in the order run)');
say(`| # | workers | ${USERS} exports took | exports/min | median time of one export | plaintext exported | attempts | CPU of the worker processes (cores) | machine busy | load average before → after |`);
say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
results.forEach((r, i) => say(`| ${i + 1} | ${r.workers} | ${r.seconds.toFixed(1)} s | ${r.perMinute.toFixed(1)} | ${r.medianExportS.toFixed(2)} s | ${r.plaintextMiB.toFixed(1)} MiB | ${r.attempts} | ${r.workerCores.toFixed(2)} | ${(r.machineBusy * 100).toFixed(0)} % | ${r.loadAt} → ${r.loadAfter} |`));
const m1 = median(results.filter((r) => r.workers === 1).map((r) => r.perMinute));
const m2 = median(results.filter((r) => r.workers === 2).map((r) => r.perMinute));
const pairRatios = Array.from({ length: RUNS }, (_, i) => results[2 * i + 1].perMinute / results[2 * i].perMinute);
say(`\n## Summary\n\n| workers | exports/min (median of ${RUNS}) |\n| --- | --- |\n| 1 | ${m1.toFixed(1)} |\n| 2 | ${m2.toFixed(1)} |\n`);
say(`Ratio 2 workers / 1 worker: **${(m2 / m1).toFixed(2)}×** (medians); per adjacent pair: ${pairRatios.map((x) => `${x.toFixed(2)}×`).join(', ')}.`);

mkdirSync('bench/results', { recursive: true });
writeFileSync(OUT, `${lines.join('\n')}\n`);
await c.close();
const cleanup = createDb(withDatabaseName(base, 'postgres'), 1);
await cleanup.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await cleanup.destroy();
