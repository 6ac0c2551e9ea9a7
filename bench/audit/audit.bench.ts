// Audit-trail benchmark, bounded in time (~1–2 min). Run: npx tsx bench/audit/audit.bench.ts
//   [--seconds 4] [--concurrency 16] [--events 1000000]
// 1. Audited staff reads vs the same reads without auditing, in one run, interleaved rounds:
//    a. service level: audit.record(...) then accounts.getAccount(...) vs getAccount alone;
//    b. HTTP level: GET /api/v1/admin/users/{id} (session, role, reason headers, audit insert,
//       account read) vs GET /api/v1/staff/me (session and one account read, no audit).
//    The background sealer runs during the audited rounds, as in production.
// 2. Verification time for N events: generated with INSERT … SELECT generate_series, sealed by
//    the real sealer, checkpointed, then verified by the same code `custos audit verify` runs.
// Results are written to bench/results/audit.md.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, migrateLatest, withDatabaseName } from '../../src/platform/db.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { createApp } from '../../src/app.js';
import { Secret, TOTP } from 'otpauth';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 4);
const CONCURRENCY = arg('concurrency', 16);
const EVENTS = arg('events', 1_000_000);
const ROUNDS = 2;

const serviceUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const benchDb = 'custos_bench_audit';

async function resetDatabase() {
  const admin = createDb(withDatabaseName(serviceUrl, 'postgres'), 1);
  await admin.raw(`DROP DATABASE IF EXISTS "${benchDb}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${benchDb}"`);
  await admin.destroy();
}

interface Run { ops: number; seconds: number; p50: number; p99: number }

/** `concurrency` loops calling `op` for `seconds`; latency in ms per call. */
async function measure(op: () => Promise<unknown>, seconds: number, concurrency: number): Promise<Run> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await op();
      latencies.push(performance.now() - t);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
  return { ops: latencies.length / elapsed, seconds: elapsed, p50: pct(0.5), p99: pct(0.99) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summarise = (runs: Run[]) => ({ ops: median(runs.map((r) => r.ops)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) });

async function main() {
  await resetDatabase();
  Object.assign(process.env, generateSecrets(), {
    NODE_ENV: 'production', DATABASE_URL: withDatabaseName(serviceUrl, benchDb), CUSTOS_LOG_LEVEL: 'silent',
    CUSTOS_QUEUE_PREFIX: 'custos_bench_audit', DATABASE_POOL_MAX: '20', CUSTOS_ARTIFACT_DIR: '.local/bench-audit',
  });
  const container = createContainer(loadConfig(process.env));
  const { db } = container.platform;
  await migrateLatest(db);
  const { accounts, audit } = container;

  const user = await accounts.register('bench-user@example.test', 'Bench-Password-4711-xyz');
  const staff = await accounts.createStaff('bench-support@example.test', 'support', 'Bench-Password-4711-xyz');
  const actor = { kind: 'staff' as const, staffId: staff.id, email: staff.email, role: 'support' };

  // --- 1a. service level
  const plainRead = () => accounts.getAccount('user', user.id);
  const auditedRead = async () => {
    await audit.record({ actor, action: 'admin.user.read', outcome: 'allowed', subjectUserId: user.id, resourceType: 'account',
      resourceIds: [user.id], reason: 'support_request', justification: 'BENCH-1', requestId: 'bench', sourceIp: '127.0.0.1', userAgent: 'bench' });
    return accounts.getAccount('user', user.id);
  };
  await measure(auditedRead, 1, CONCURRENCY); // warm-up
  await measure(plainRead, 1, CONCURRENCY);
  const svc = { plain: [] as Run[], audited: [] as Run[] };
  for (let r = 0; r < ROUNDS; r++) {
    svc.plain.push(await measure(plainRead, SECONDS, CONCURRENCY));
    svc.audited.push(await measure(auditedRead, SECONDS, CONCURRENCY));
  }

  // --- 1b. HTTP level: a real staff session (TOTP confirmed directly in the table; the login flow
  // is not what is measured).
  const { secret } = await accounts.twoFactor.enrol(staff);
  const totp = (at: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at });
  await accounts.twoFactor.confirm(await accounts.getAccount('staff', staff.id), totp(Date.now() - 30_000));
  const { token } = await accounts.loginStaff({ email: staff.email, password: 'Bench-Password-4711-xyz', ip: '127.0.0.1', totp: totp(Date.now()) });
  const http = { plain: [] as Run[], audited: [] as Run[] };
  if (token) {
    const server = createServer(createApp(container));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${token}` };
    const get = (path: string, extra: Record<string, string> = {}) => async () => {
      const res = await fetch(base + path, { headers: { ...headers, ...extra } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    };
    const plainHttp = get('/api/v1/staff/me');
    const auditedHttp = get(`/api/v1/admin/users/${user.id}`, { 'x-access-reason': 'support_request', 'x-access-justification': 'BENCH-1' });
    await measure(auditedHttp, 1, CONCURRENCY);
    for (let r = 0; r < ROUNDS; r++) {
      http.plain.push(await measure(plainHttp, SECONDS, CONCURRENCY));
      http.audited.push(await measure(auditedHttp, SECONDS, CONCURRENCY));
    }
    server.close();
  }

  // --- 2. verification of EVENTS events
  await audit.seal();
  const t0 = performance.now();
  const chunk = 250_000;
  for (let done = 0; done < EVENTS; done += chunk) {
    const n = Math.min(chunk, EVENTS - done);
    await db.raw(`INSERT INTO audit_events (occurred_at, actor_kind, actor_staff_id, actor_email, actor_role, action, outcome, subject_user_id,
        resource_type, resource_ids, reason, justification, request_id, source_ip, user_agent)
      SELECT now() - make_interval(secs => ? - g), 'staff', ?, 'bench-support@example.test', 'support', 'admin.user.read', 'allowed', gen_random_uuid(),
        'account', ARRAY[g::text], 'support_request', 'TICKET-' || g, 'req-' || g, '10.0.0.' || (g % 250), 'Mozilla/5.0 bench'
      FROM generate_series(1, ?) AS g`, [n, staff.id, n]);
  }
  const generateSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await audit.seal();
  const sealSeconds = (performance.now() - t1) / 1000;
  await audit.checkpoint();
  const verification = await audit.verify({ seal: false });
  const totalEvents = verification.eventsChecked;

  await container.close();
  await resetDatabase().then(async () => {
    const admin = createDb(withDatabaseName(serviceUrl, 'postgres'), 1);
    await admin.raw(`DROP DATABASE IF EXISTS "${benchDb}" WITH (FORCE)`);
    await admin.destroy();
  });

  const s = { plain: summarise(svc.plain), audited: summarise(svc.audited) };
  const h = token ? { plain: summarise(http.plain), audited: summarise(http.audited) } : null;
  const fmt = (x: number, d = 0) => x.toFixed(d);
  const row = (label: string, r: { ops: number; p50: number; p99: number }) => `| ${label} | ${fmt(r.ops)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`;
  const report = [
    '# Audit trail benchmark',
    '',
    `Command: \`npx tsx bench/audit/audit.bench.ts --seconds ${SECONDS} --concurrency ${CONCURRENCY} --events ${EVENTS}\``,
    `Machine: ${cpus().length} CPU (\`nproc\`), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free), load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end (shared with other work); PostgreSQL and Redis on the same host.`,
    `Medians of ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CONCURRENCY} concurrent callers. Background sealing runs during audited rounds.`,
    '',
    '## Audited staff reads vs the same reads without auditing',
    '',
    '| Level / variant | reads/s | p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: |',
    row('service: getAccount (baseline)', s.plain),
    row('service: audit.record + getAccount', s.audited),
    ...(h ? [row('HTTP: GET /api/v1/staff/me (baseline, no audit)', h.plain), row('HTTP: GET /api/v1/admin/users/{id} (audited)', h.audited)] : []),
    '',
    `Service level: ${fmt(s.audited.ops)} audited reads/s (goal ≥ 2,000), ${fmt((s.audited.ops / s.plain.ops) * 100)} % of the baseline; `
      + `added p99 ${fmt(s.audited.p99 - s.plain.p99, 2)} ms, added p50 ${fmt(s.audited.p50 - s.plain.p50, 2)} ms (goal ≤ 2 ms added p99).`,
    ...(h ? [`HTTP level: ${fmt(h.audited.ops)} audited reads/s vs ${fmt(h.plain.ops)} baseline; added p99 ${fmt(h.audited.p99 - h.plain.p99, 2)} ms.`] : []),
    '',
    `## Verification of ${totalEvents.toLocaleString('en')} events`,
    '',
    `- generate with INSERT … SELECT generate_series: ${fmt(generateSeconds, 1)} s`,
    `- seal with the production sealer (hash + chain rows): ${fmt(sealSeconds, 1)} s (${fmt(totalEvents / sealSeconds)} events/s)`,
    `- verify (recompute every hash, the chain and the checkpoint signature): **${fmt(verification.durationMs / 1000, 2)} s** (goal ≤ 10 s) — ${verification.message}`,
    '',
  ].join('\n');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/audit.md', report);
  process.stdout.write(report);
}

main().catch((error) => { console.error(error); process.exit(1); });
