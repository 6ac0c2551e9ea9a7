// Benchmark of the privacy jobs (issue 4).
// Needs zip, gpg and psql for the floor (`sh bench/setup.sh` installs them).
// Run: npx tsx bench/privacy/privacy-bench.ts [--part all|export|deletion] [--messages 50000,100000] [--files 200]
//        [--rows 1000000] [--runs 3] [--batch ROWS] [--pause MS] [--out bench/results/privacy.md] [--cpu-prof DIR]
//        [--worker-flags='--max-old-space-size=128'] [--db NAME] [--reuse]
// 1. Export of a user with N messages and F files, run by a separate
//    `custos worker` process (node --import tsx src/cli.ts worker): plaintext MB/s from the
//    request's started/completed times, and the worker's peak RSS read from /proc/<pid>/status
//    (VmHWM) after the job, next to the same worker's RSS when idle. Two sizes show whether memory
//    stays flat. Floor over the same rows in the same session: psql COPY | zip | gpg --symmetric.
//    Content is realistic and deterministic (realistic-data.ts): messages of varied words and
//    lengths (mean ~390 B, some non-ASCII, deflates ~3:1), files txt/md/csv/pdf of 1 KiB-1 MiB.
//    Each size is seeded once and exported --runs times (medians). --cpu-prof DIR profiles the worker.
// 2. Deletion of a user with R rows (messages), timed, while another user's message list is read
//    in a loop; its p99 is compared with a baseline measured just before, R runs, medians.
import { execSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freemem, totalmem, cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { libraryFile, messageText, prng } from './realistic-data.js';

const arg = (name: string, dflt: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const PART = arg('part', 'all');
const SIZES = arg('messages', '50000,100000').split(',').map(Number);
const FILES = Number(arg('files', '200'));
const ROWS = Number(arg('rows', '1000000'));
const RUNS = Number(arg('runs', '3'));
const OUT = arg('out', 'bench/results/privacy.md');
const BATCH = arg('batch', '');
const PAUSE = arg('pause', '');
const CPU_PROF = arg('cpu-prof', '');
/** Node flags for the worker only; by default the heap docker-compose.yml gives the worker role (docs/operations.md). `--worker-flags=` runs it without. */
const DEFAULT_WORKER_FLAGS = '--max-old-space-size=128 --max-semi-space-size=2';
const WORKER_FLAGS = (process.argv.find((a) => a.startsWith('--worker-flags='))?.slice('--worker-flags='.length) ?? DEFAULT_WORKER_FLAGS).split(' ').filter(Boolean);
/** --db NAME: its own database and Redis prefix, so two checkouts can run the bench at the same time. */
const DB = arg('db', 'custos_bench_privacy');
/** --reuse: keep the database and its seeded users between invocations (seeding 1M messages takes minutes on this machine). */
const REUSE = process.argv.includes('--reuse');
const SEEDS = `.local/${DB}-seeds.json`;
/** With --reuse the master keys must outlive the process too, or the kept data keys could not be opened. */
const SECRETS = `.local/${DB}-secrets.json`;
const reusable = REUSE && existsSync(SECRETS);
const secrets = () => {
  const file = SECRETS;
  if (reusable) return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  const made = generateSecrets();
  mkdirSync('.local', { recursive: true });
  if (REUSE) writeFileSync(file, JSON.stringify(made), { mode: 0o600 });
  return made;
};
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const url = withDatabaseName(base, DB);
Object.assign(process.env, { NODE_ENV: 'test', DATABASE_URL: url, CUSTOS_QUEUE_PREFIX: DB, CUSTOS_LOG_LEVEL: 'silent', CUSTOS_ARTIFACT_DIR: '.local/bench-artifacts', CUSTOS_DELETION_GRACE_DAYS: '0', ...secrets() });

const admin = createDb(withDatabaseName(base, 'postgres'), 1);
const exists = (await admin.raw('SELECT 1 FROM pg_database WHERE datname = ?', [DB])).rows.length > 0;
if (!reusable || !exists) {
  await admin.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${DB}"`);
  writeFileSync(SEEDS, '{}');
}
await admin.destroy();
await migrateDatabase(loadConfig(process.env)); // owner connection; it also creates the runtime role
const c = createContainer(loadConfig({ ...process.env, ...(BATCH ? { CUSTOS_DELETION_BATCH_ROWS: BATCH } : {}), ...(PAUSE ? { CUSTOS_DELETION_PAUSE_MS: PAUSE } : {}) }));
const { deletionBatchRows, deletionPauseMs } = c.platform.config.privacy;
const { db, fieldCipher, queues, redis } = c.platform;
for (const key of await redis.keys(`${DB}:*`)) await redis.del(key);
const chat = (c as unknown as { chat: Record<string, (...a: any[]) => Promise<any>> }).chat;

async function seedUser(label: string, messages: number, files: number): Promise<{ user: { id: string }; chatId: string }> {
  const seeds = JSON.parse(existsSync(SEEDS) ? readFileSync(SEEDS, 'utf8') : '{}') as Record<string, { user: { id: string }; chatId: string }>;
  const name = `${label}:${messages}:${files}`;
  const seeded = REUSE && messages > 0 ? seeds[name] : undefined;
  if (seeded && Number((await db('messages').where({ user_id: seeded.user.id }).count({ n: '*' }))[0].n) === messages) return seeded;
  const made = await seedNewUser(label, messages, files);
  if (REUSE) writeFileSync(SEEDS, JSON.stringify({ ...seeds, [name]: { user: { id: made.user.id }, chatId: made.chatId } }));
  return made;
}

async function seedNewUser(label: string, messages: number, files: number) {
  const user = await c.accounts.register(`${label}-${randomUUID()}@bench.test`, `Bench-password-${randomUUID()}`);
  const conversation = await chat.createChat(user.id, `${label} chat`);
  const random = prng(messages + files);
  for (let i = 0; i < messages; i += 2000) {
    // One key lookup first (the key cache lasts a minute): 2,000 concurrent cold lookups exhausted the pool on a loaded machine.
    await fieldCipher.encryptText(user.id, { table: 'messages', column: 'content_enc', rowId: randomUUID() }, 'warm');
    const rows = await Promise.all(Array.from({ length: Math.min(2000, messages - i) }, async (_, k) => {
      const id = randomUUID();
      const role = (i + k) % 2 ? 'assistant' : 'user';
      return { id, chat_id: conversation.id, user_id: user.id, role, content_enc: await fieldCipher.encryptText(user.id, { table: 'messages', column: 'content_enc', rowId: id }, messageText(random, role)) };
    }));
    await db('messages').insert(rows);
  }
  for (let i = 0; i < files; i += 1) await chat.uploadFile(user.id, await libraryFile(random, i));
  return { user, chatId: conversation.id };
}

/**
 * Statistics as autovacuum would have them on a live system (this machine's PostgreSQL runs with
 * autovacuum off); without, the planner reads each export page by a bitmap scan and a sort of all
 * the user's remaining rows. As the table's owner: the runtime role's ANALYZE is skipped with only
 * a warning, which is how the earlier figures came to be measured without statistics.
 */
async function analyzeMessages(vacuum = false) {
  const owner = createDb(url, 1);
  try {
    await owner.raw(vacuum ? 'VACUUM ANALYZE messages' : 'ANALYZE messages');
  } finally {
    await owner.destroy();
  }
}

const lines: string[] = [];
const say = (s: string) => { lines.push(s); process.stdout.write(`${s}\n`); };
const load = () => execSync('uptime').toString().trim().replace(/^.*load average/, 'load average');
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
say(`# Privacy benchmark\n\nCommand: \`npx tsx bench/privacy/privacy-bench.ts --part ${PART} --messages ${SIZES.join(',')} --files ${FILES} --rows ${ROWS} --runs ${RUNS}${BATCH ? ` --batch ${BATCH}` : ''}${PAUSE ? ` --pause ${PAUSE}` : ''}\``);
say(`Worker: \`node ${WORKER_FLAGS.join(' ')} --import tsx src/cli.ts worker\`.`);
say(`Machine: nproc ${cpus().length}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB), shared with other engineers' test runs. ${new Date().toISOString()}\n`);

// ---- export, in a separate worker process ----
const status = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
};
/** User + system CPU seconds of a process so far, all its threads (utime and stime of /proc/<pid>/stat). */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Workers still running; killed if the bench dies, or a left-over worker would take the next run's jobs. */
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const child of live) child.kill('SIGKILL'); });
async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...WORKER_FLAGS, ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []), '--import', 'tsx', 'src/cli.ts', 'worker'], { env: process.env, stdio: ['ignore', 'ignore', 'inherit'] });
  // Idle means started and settled: the workers connect within a second or two on this machine.
  live.add(child);
  child.once('exit', () => live.delete(child));
  await sleep(5000);
  if (child.exitCode !== null) throw new Error('worker exited');
  return child;
}
async function stopWorker(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function exportOnce(messages: number, exporter: Awaited<ReturnType<typeof seedUser>>) {
  const worker = await startWorker();
  const idle = status(worker.pid!);
  const cpuAtIdle = cpuSeconds(worker.pid!);
  // The row is written directly (the HTTP path re-authenticates with a password) and enqueued as the API does.
  const id = randomUUID();
  // With --reuse, a request an interrupted earlier run left open would block this one (one running export per user).
  await db('privacy_requests').where({ user_id: exporter.user.id, type: 'export' }).whereNotIn('state', ['completed', 'failed', 'expired']).update({ state: 'failed' });
  await db('privacy_requests').insert({ id, user_id: exporter.user.id, type: 'export', state: 'received', due_at: new Date(Date.now() + 30 * 86_400_000),
    passphrase_enc: await fieldCipher.encryptText(exporter.user.id, { table: 'privacy_requests', column: 'passphrase_enc', rowId: id }, 'bench passphrase 123') });
  const loadAt = load();
  await queues.enqueue('privacy-export', id, { requestId: id });
  let done;
  for (;;) {
    done = await db('privacy_requests').where({ id }).first();
    if (['completed', 'failed'].includes(done.state)) break;
    await sleep(200);
  }
  const peak = status(worker.pid!);
  const workerCpu = cpuSeconds(worker.pid!) - cpuAtIdle;
  await stopWorker(worker);
  if (done.state !== 'completed') throw new Error(`export ended ${done.state} ${done.last_error}`);
  const exportMs = done.completed_at.getTime() - done.started_at.getTime();

  mkdirSync('.local/bench-tmp', { recursive: true });
  const f0 = Date.now();
  const floor = spawnSync('sh', ['-c', `psql "${url}" -c "COPY (SELECT id, role, encode(content_enc, 'base64'), created_at FROM messages WHERE user_id = '${exporter.user.id}') TO STDOUT" | zip -q - - | gpg --batch --yes --pinentry-mode loopback --passphrase floor --symmetric --cipher-algo AES256 -o .local/bench-tmp/floor.gpg && stat -c %s .local/bench-tmp/floor.gpg`], { encoding: 'utf8' });
  const floorMs = Date.now() - f0;
  const copyBytes = Number(execSync(`psql "${url}" -Atc "SELECT sum(length(id::text) + length(role) + length(encode(content_enc, 'base64')) + 40) FROM messages WHERE user_id = '${exporter.user.id}'"`).toString());
  return { messages, plaintext: Number(done.plaintext_bytes), artifact: Number(done.artifact_bytes), exportMs, floorMs, copyBytes, floorOk: floor.status === 0, idle, peak, loadAt, workerCpu };
}

if (PART === 'all' || PART === 'export') {
  const results = [];
  for (const n of SIZES) {
    const t0 = Date.now();
    const exporter = await seedUser(`exporter${n}`, n, FILES);
    await analyzeMessages();
    say(`Seeded ${n} messages and ${FILES} files in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
    const runs: Array<Awaited<ReturnType<typeof exportOnce>>> = [];
    for (let run = 0; run < RUNS; run += 1) {
      runs.push(await exportOnce(n, exporter));
      const r = runs[run];
      const ratio = (r.plaintext / r.exportMs) / (r.copyBytes / r.floorMs);
      process.stdout.write(`export ${n} run ${run + 1}: ${(r.exportMs / 1000).toFixed(2)} s, floor ${(r.floorMs / 1000).toFixed(2)} s, ratio ${ratio.toFixed(2)}x, worker CPU ${r.workerCpu.toFixed(2)} s, peak ${r.peak.hwm.toFixed(0)} MiB (${r.loadAt})\n`);
    }
    const ratioOf = (r: (typeof runs)[number]) => (r.plaintext / r.exportMs) / (r.copyBytes / r.floorMs);
    const byRatio = [...runs].sort((a, b) => ratioOf(a) - ratioOf(b));
    results.push(...runs.map((r, i) => ({ ...r, label: `${n} + ${FILES}, run ${i + 1}` })));
    // The median run by ratio, and the worst peak RSS of all runs.
    results.push({ ...byRatio[Math.floor((byRatio.length - 1) / 2)], label: `**${n} + ${FILES}, median of ${RUNS}**`, peak: { rss: 0, hwm: Math.max(...runs.map((r) => r.peak.hwm)) } });
  }
  say('\n## Export (separate `custos worker` process)');
  say('| messages + files | plaintext | encrypted | Custos time | Custos MB/s | floor MB/s (same rows) | ratio | worker CPU (all threads) | worker idle RSS | worker peak RSS (VmHWM) | load at start |');
  say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const mbps = r.plaintext / 2 ** 20 / (r.exportMs / 1000);
    const floorMbps = r.copyBytes / 2 ** 20 / (r.floorMs / 1000);
    say(`| ${r.label} | ${(r.plaintext / 2 ** 20).toFixed(1)} MiB | ${(r.artifact / 2 ** 20).toFixed(1)} MiB | ${(r.exportMs / 1000).toFixed(2)} s | ${mbps.toFixed(2)} | ${floorMbps.toFixed(2)}${r.floorOk ? '' : ' (FAILED)'} | ${(mbps / floorMbps).toFixed(2)}× | ${r.workerCpu.toFixed(2)} s | ${r.idle.rss.toFixed(0)} MiB | ${r.peak.hwm.toFixed(0)} MiB | ${r.loadAt} |`);
  }
}

// ---- deletion under load ----
if (PART === 'all' || PART === 'deletion') {
  const reader = await seedUser('reader', 2000, 0);
  const p99 = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]; };
  async function listLoop(stop: () => boolean, min = 0) {
    const times: number[] = [];
    while (!stop() || times.length < min) {
      const s = performance.now();
      await chat.listMessages(reader.user.id, reader.chatId, { limit: 50 });
      times.push(performance.now() - s);
    }
    return times;
  }
  const runs = [];
  for (let run = 0; run < RUNS; run += 1) {
    const victim = await seedUser(`victim${run}`, 0, 0);
    const d0 = Date.now();
    await db.raw(`INSERT INTO messages (id, chat_id, user_id, role, content_enc) SELECT gen_random_uuid(), ?, ?, 'user', gen_random_bytes(200) FROM generate_series(1, ?)`, [victim.chatId, victim.user.id, ROWS]);
    await analyzeMessages(true);
    const seedS = (Date.now() - d0) / 1000;
    const b0 = Date.now();
    const baseline = await listLoop(() => Date.now() - b0 > 5000, 50);
    const delId = randomUUID();
    await db('privacy_requests').insert({ id: delId, user_id: victim.user.id, type: 'deletion', state: 'scheduled', scheduled_for: new Date(), due_at: new Date(Date.now() + 30 * 86_400_000) });
    const loadAt = load();
    let deleting = true;
    const underLoad = listLoop(() => !deleting, 50);
    const x0 = Date.now();
    await c.privacy.runDeletion(delId);
    const deletionMs = Date.now() - x0;
    deleting = false;
    const loaded = await underLoad;
    const del = await db('privacy_requests').where({ id: delId }).first();
    const deleted = JSON.parse(del.receipt ?? '{}').deletedRows?.['messages.user_id'] ?? del.state;
    runs.push({ seedS, deleted, deletionMs, base: p99(baseline), baseN: baseline.length, during: p99(loaded), duringN: loaded.length, loadAt });
  }
  say(`\n## Deletion of ${ROWS} rows (batches of ${deletionBatchRows} rows, ${deletionPauseMs} ms pause) while another user's message list is read in a loop`);
  say('| run | rows deleted | deletion time | list p99 baseline | list p99 during | ratio | load at start |\n| --- | --- | --- | --- | --- | --- | --- |');
  runs.forEach((r, i) => say(`| ${i + 1} | ${r.deleted} | ${(r.deletionMs / 1000).toFixed(1)} s | ${r.base.toFixed(1)} ms (${r.baseN}) | ${r.during.toFixed(1)} ms (${r.duringN}) | ${(r.during / r.base).toFixed(2)}× | ${r.loadAt} |`));
  say(`| **median** | | **${(median(runs.map((r) => r.deletionMs)) / 1000).toFixed(1)} s** (goal ≤ 60 s) | ${median(runs.map((r) => r.base)).toFixed(1)} ms | ${median(runs.map((r) => r.during)).toFixed(1)} ms | **${median(runs.map((r) => r.during / r.base)).toFixed(2)}×** (goal ≤ 1.5×) | |`);
}

mkdirSync('bench/results', { recursive: true });
writeFileSync(OUT, `${lines.join('\n')}\n`);
await c.close();
if (!REUSE) {
  const cleanup = createDb(withDatabaseName(base, 'postgres'), 1);
  await cleanup.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
  await cleanup.destroy();
}
