// Benchmark of the privacy jobs (issue 4). Run: npx tsx bench/privacy/privacy-bench.ts [--messages N] [--files N] [--rows N]
// 1. Export of a user with N messages (~500 B each) and F files (10 KiB each): plaintext MB/s and
//    peak RSS of this process (which runs the export exactly as a worker does), against a floor
//    pipeline over the same rows in the same session: psql COPY | zip | gpg --symmetric.
// 2. Deletion of a user with R rows (messages), timed, while another user's message list is
//    read in a loop; its p99 is compared with a baseline measured just before.
import { execSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { freemem, totalmem, cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, migrateLatest, withDatabaseName } from '../../src/platform/db.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';

const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const MESSAGES = arg('messages', 100_000);
const FILES = arg('files', 200);
const ROWS = arg('rows', 1_000_000);
const DB = 'custos_bench_privacy';
const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const url = withDatabaseName(base, DB);
Object.assign(process.env, { NODE_ENV: 'test', DATABASE_URL: url, CUSTOS_QUEUE_PREFIX: 'custos_bench_privacy', CUSTOS_LOG_LEVEL: 'silent', CUSTOS_ARTIFACT_DIR: '.local/bench-artifacts', CUSTOS_DELETION_GRACE_DAYS: '0', ...generateSecrets() });

const admin = createDb(withDatabaseName(base, 'postgres'), 1);
await admin.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await admin.raw(`CREATE DATABASE "${DB}"`);
await admin.destroy();
const c = createContainer(loadConfig(process.env));
const { db, fieldCipher } = c.platform;
await migrateLatest(db);
const chat = (c as unknown as { chat: Record<string, (...a: any[]) => Promise<any>> }).chat;

async function seedUser(label: string, messages: number, files: number) {
  const user = await c.accounts.register(`${label}-${randomUUID()}@bench.test`, `Bench-password-${randomUUID()}`);
  const conversation = await chat.createChat(user.id, `${label} chat`);
  const text = 'x'.repeat(400);
  for (let i = 0; i < messages; i += 2000) {
    const rows = await Promise.all(Array.from({ length: Math.min(2000, messages - i) }, async (_, k) => {
      const id = randomUUID();
      return { id, chat_id: conversation.id, user_id: user.id, role: 'user', content_enc: await fieldCipher.encryptText(user.id, { table: 'messages', column: 'content_enc', rowId: id }, `${i + k} ${text}`) };
    }));
    await db('messages').insert(rows);
  }
  for (let i = 0; i < files; i += 1) await chat.uploadFile(user.id, { fileName: `file-${i}.txt`, bytes: Buffer.from(randomBytes(5120).toString('hex')) });
  return { user, chatId: conversation.id };
}

const lines: string[] = [];
const say = (s: string) => { lines.push(s); process.stdout.write(`${s}\n`); };
say(`# Privacy benchmark\n\nCommand: \`npx tsx bench/privacy/privacy-bench.ts --messages ${MESSAGES} --files ${FILES} --rows ${ROWS}\``);
say(`Machine: nproc ${cpus().length}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB), shared with other engineers' test runs.\n`);

// ---- export ----
const t0 = Date.now();
const exporter = await seedUser('exporter', MESSAGES, FILES);
say(`Seeded ${MESSAGES} messages and ${FILES} files in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
// The row is written directly (the HTTP path re-authenticates with a password), then the job runs as a worker would.
const id = randomUUID();
await db('privacy_requests').insert({ id, user_id: exporter.user.id, type: 'export', state: 'received', due_at: new Date(Date.now() + 30 * 86_400_000),
  passphrase_enc: await fieldCipher.encryptText(exporter.user.id, { table: 'privacy_requests', column: 'passphrase_enc', rowId: id }, 'bench passphrase 123') });
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
const e0 = Date.now();
await c.privacy.runExport(id);
const exportMs = Date.now() - e0;
clearInterval(sampler);
const done = await db('privacy_requests').where({ id }).first();
if (done.state !== 'completed') throw new Error(`export ended ${done.state} ${done.last_error}`);
const mbps = Number(done.plaintext_bytes) / 2 ** 20 / (exportMs / 1000);

mkdirSync('.local/bench-tmp', { recursive: true });
const f0 = Date.now();
const floor = spawnSync('sh', ['-c', `psql "${url}" -c "COPY (SELECT id, role, encode(content_enc, 'base64'), created_at FROM messages WHERE user_id = '${exporter.user.id}') TO STDOUT" | zip -q - - | gpg --batch --yes --pinentry-mode loopback --passphrase floor --symmetric --cipher-algo AES256 -o .local/bench-tmp/floor.gpg && stat -c %s .local/bench-tmp/floor.gpg`], { encoding: 'utf8' });
const floorMs = Date.now() - f0;
const copyBytes = Number(execSync(`psql "${url}" -Atc "SELECT sum(length(id::text) + length(role) + length(encode(content_enc, 'base64')) + 40) FROM messages WHERE user_id = '${exporter.user.id}'"`).toString());
const floorMbps = copyBytes / 2 ** 20 / (floorMs / 1000);
say('## Export');
say(`| measure | Custos export job | floor (psql COPY \\| zip \\| gpg --symmetric) |\n| --- | --- | --- |`);
say(`| plaintext bytes | ${done.plaintext_bytes} (decrypted JSON + ${FILES} files) | ${copyBytes} (ciphertext as base64, messages only${floor.status === 0 ? '' : ', FAILED'}) |`);
say(`| time | ${(exportMs / 1000).toFixed(2)} s | ${(floorMs / 1000).toFixed(2)} s |`);
say(`| throughput | ${mbps.toFixed(2)} MB/s | ${floorMbps.toFixed(2)} MB/s |`);
say(`| ratio to floor | ${(mbps / floorMbps).toFixed(2)}× (goal ≥ 0.5×) | 1× |`);
say(`| peak RSS | ${(peak / 2 ** 20).toFixed(0)} MiB (goal ≤ 256) | — |\n`);

// ---- deletion under load ----
const victim = await seedUser('victim', 0, 0);
const reader = await seedUser('reader', 2000, 0);
const d0 = Date.now();
await db.raw(`INSERT INTO messages (id, chat_id, user_id, role, content_enc) SELECT gen_random_uuid(), ?, ?, 'user', gen_random_bytes(200) FROM generate_series(1, ?)`, [victim.chatId, victim.user.id, ROWS]);
say(`Seeded ${ROWS} rows for the deleted user in ${((Date.now() - d0) / 1000).toFixed(1)} s.`);
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
const b0 = Date.now();
const baseline = await listLoop(() => Date.now() - b0 > 5000, 50);
const delId = randomUUID();
await db('privacy_requests').insert({ id: delId, user_id: victim.user.id, type: 'deletion', state: 'scheduled', scheduled_for: new Date(), due_at: new Date(Date.now() + 30 * 86_400_000) });
let deleting = true;
const underLoad = listLoop(() => !deleting, 50);
const x0 = Date.now();
await c.privacy.runDeletion(delId);
const deletionMs = Date.now() - x0;
deleting = false;
const loaded = await underLoad;
const del = await db('privacy_requests').where({ id: delId }).first();
say('## Deletion');
say(`| measure | value | goal |\n| --- | --- | --- |`);
say(`| rows deleted | ${JSON.parse(del.receipt ?? '{}').deletedRows?.['messages.user_id'] ?? del.state} | ${ROWS} |`);
say(`| deletion time | ${(deletionMs / 1000).toFixed(1)} s | ≤ 60 s |`);
say(`| other user's message list p99, baseline | ${p99(baseline).toFixed(1)} ms (${baseline.length} calls) | |`);
say(`| … during the deletion | ${p99(loaded).toFixed(1)} ms (${loaded.length} calls) | ≤ 1.5× baseline |`);
say(`| ratio | ${(p99(loaded) / p99(baseline)).toFixed(2)}× | ≤ 1.5× |`);

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/privacy.md', `${lines.join('\n')}\n`);
await c.close();
const cleanup = createDb(withDatabaseName(base, 'postgres'), 1);
await cleanup.raw(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
await cleanup.destroy();
