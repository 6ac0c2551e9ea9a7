// Accounts benchmark (issue 2). Run: npx tsx bench/accounts/run.ts [seconds-per-phase]
//  1. Session lookups per second: resolveSession (token hash -> row -> AES-256-GCM decrypt of the
//     session data -> account row -> touch) with a warm data-key cache and with a cold one (every
//     lookup unwraps the data key again), against a plain SELECT by token hash measured in the
//     same run as the baseline.
//  2. /healthz latency (p50/p99) with no load, then while 20 logins (bcrypt cost 12) are always in
//     flight: bcrypt runs on libuv's thread pool, so the event loop must stay free (target p99 ≤ 10 ms).
// Uses its own database (custos_bench_accounts) and Redis prefix; writes bench/results/accounts.md.
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { randomToken, sha256 } from '../../src/platform/crypto/hashing.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { startServer } from '../../src/server.js';

const seconds = Number(process.argv[2] ?? 3);
const DATABASE = 'custos_bench_accounts';
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const SESSIONS = 1000;
const CONCURRENCY = 8;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs `op` from CONCURRENCY loops for `seconds`; returns operations per second. */
async function throughput(op: (i: number) => Promise<unknown>): Promise<number> {
  let count = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) {
      await op(count);
      count += 1;
    }
  }));
  return count / seconds;
}

async function main() {
  const loadNow = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadStart = loadNow();
  const admin = createDb(withDatabaseName(serverUrl, 'postgres'), 1);
  await admin.raw(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${DATABASE}"`);
  await admin.destroy();
  const config = loadConfig({
    ...process.env, ...generateSecrets(), NODE_ENV: 'test', CUSTOS_VALIDATE_RESPONSES: 'false', CUSTOS_LOG_LEVEL: 'silent',
    DATABASE_URL: withDatabaseName(serverUrl, DATABASE), CUSTOS_QUEUE_PREFIX: DATABASE, HOST: '127.0.0.1', PORT: '0',
    CUSTOS_LOGIN_MAX_FAILURES_PER_IP: '100000',
  });
  const container = createContainer(config);
  const { db, fieldCipher, keyStore, redis } = container.platform;
  await migrateDatabase(config); // owner connection; the container runs as the runtime role
  const password = 'Bench-password-1234';

  // 1. Session lookups. Users through the service; their sessions inserted in the service's format.
  const users = await Promise.all(Array.from({ length: 20 }, (_, i) => container.accounts.register(`bench-${i}@example.test`, password)));
  const tokens: string[] = [];
  for (let i = 0; i < SESSIONS; i += 1) {
    const user = users[i % users.length];
    const id = randomUUID();
    const token = randomToken('cst_');
    tokens.push(token);
    await db('sessions').insert({
      id, user_id: user.id, token_hash: sha256(token), expires_at: new Date(Date.now() + 3600_000),
      data_enc: await fieldCipher.encryptJson(user.id, { table: 'sessions', column: 'data_enc', rowId: id }, { userAgent: 'bench', ip: '127.0.0.1', secondFactor: 'none' }),
    });
  }
  const pick = (i: number) => tokens[(i * 7919) % tokens.length];
  const runs = { select: [] as number[], warm: [] as number[], cold: [] as number[] };
  for (let round = 0; round < 3; round += 1) {
    runs.select.push(await throughput((i) => db('sessions').where({ token_hash: sha256(pick(i)) }).whereNull('revoked_at').first()));
    runs.warm.push(await throughput(async (i) => { if (!(await container.accounts.resolveSession('user', pick(i)))) throw new Error('lookup failed'); }));
    runs.cold.push(await throughput(async (i) => { keyStore.clearCache(); if (!(await container.accounts.resolveSession('user', pick(i)))) throw new Error('lookup failed'); }));
  }
  const loadLookups = loadNow();

  // 2. /healthz under a login storm.
  const server = await startServer(container);
  const port = Number(new URL(server.url).port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const request = (method: string, path: string, body?: unknown) => new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
  const probeHealth = async (durationMs: number) => {
    const latencies: number[] = [];
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      if ((await request('GET', '/healthz')) !== 200) throw new Error('healthz failed');
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      await new Promise((r) => setTimeout(r, 5));
    }
    return latencies.sort((a, b) => a - b);
  };
  for (let i = 0; i < 50; i += 1) await request('GET', '/healthz'); // warm-up
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const idle = await probeHealth(seconds * 1000);
  const idleLoopP99 = loop.percentile(99) / 1e6;
  loop.reset();

  let storming = true;
  let logins = 0;
  const storm = Promise.all(Array.from({ length: 20 }, async (_, i) => {
    while (storming) {
      const status = await request('POST', '/api/v1/auth/login', { email: `bench-${i}@example.test`, password });
      if (status !== 200) throw new Error(`login ${status}`);
      logins += 1;
    }
  }));
  const stormStart = Date.now();
  const busy = await probeHealth(seconds * 1000);
  const stormLoopP99 = loop.percentile(99) / 1e6;
  storming = false;
  await storm;
  const loginsPerSecond = logins / ((Date.now() - stormStart) / 1000);
  loop.disable();
  agent.destroy();
  await server.close();
  const keys = await redis.keys(`${DATABASE}:*`);
  if (keys.length) await redis.del(...keys);
  await container.close();

  const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0);
  const sh = (cmd: string) => execSync(cmd, { encoding: 'utf8' }).trim();
  const result = `# Accounts benchmark

Command: \`npx tsx bench/accounts/run.ts ${seconds}\` (${seconds} s per phase; session lookups: 3 rounds, medians shown).
Machine: nproc ${sh('nproc')}; ${sh('free -h | sed -n 2p').replace(/\s+/g, ' ')}; Node ${process.version}; PostgreSQL and Redis on localhost.
Load average (1/5/15 min) at the start ${loadStart}, after the session lookups ${loadLookups}, at the end ${sh("cut -d' ' -f1-3 /proc/loadavg")}.

## Session lookups (${SESSIONS} sessions of 20 users, ${CONCURRENCY} concurrent loops, pool ${config.databasePoolMax})

| Lookup | ops/s (median of 3) | runs | vs plain SELECT |
| --- | ---: | --- | ---: |
| Plain \`SELECT … WHERE token_hash = $1\` (baseline) | ${fmt(median(runs.select))} | ${runs.select.map(fmt).join(', ')} | 1.00 |
| resolveSession, warm data-key cache | ${fmt(median(runs.warm))} | ${runs.warm.map(fmt).join(', ')} | ${(median(runs.warm) / median(runs.select)).toFixed(2)} |
| resolveSession, cold cache (unwrap every time) | ${fmt(median(runs.cold))} | ${runs.cold.map(fmt).join(', ')} | ${(median(runs.cold) / median(runs.select)).toFixed(2)} |

resolveSession does one query (session joined with its owner by token hash; the touch of the idle
clock is a write at most once a minute per session, so almost never in this loop), one AES-256-GCM
decryption, and with a cold cache one more query and an unwrap of the data key.

## /healthz latency while 20 logins (bcrypt cost ${config.bcryptCost}) are always in flight

| Phase | requests | p50 ms | p99 ms | event-loop delay p99 ms |
| --- | ---: | ---: | ---: | ---: |
| No load (baseline) | ${idle.length} | ${fmt(percentile(idle, 50))} | ${fmt(percentile(idle, 99))} | ${fmt(idleLoopP99)} |
| 20 concurrent logins (${fmt(loginsPerSecond)} logins/s) | ${busy.length} | ${fmt(percentile(busy, 50))} | ${fmt(percentile(busy, 99))} | ${fmt(stormLoopP99)} |

Target: p99 ≤ 10 ms during the storm — ${percentile(busy, 99) <= 10 ? 'met' : 'NOT met'}. Ratio storm/baseline p99: ${(percentile(busy, 99) / percentile(idle, 99)).toFixed(2)}.
`;
  writeFileSync('bench/results/accounts.md', result);
  process.stdout.write(result);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
