// Benchmark of the backup path, measured against the tools it replaces, in the same run:
//  1. encryption throughput: our stream (AES-256-CBC + SHA-256 of plaintext and ciphertext) versus
//     `openssl enc -aes-256-cbc -pbkdf2 -iter 100000` on the same pg_dump file;
//  2. end to end: `custos backup run` versus `pg_dump -Fc | openssl enc …` on the same database.
// Goals (issue 6): ≥ 0.9× openssl's throughput; end to end ≤ 1.1× the shell pipeline's time.
// Run: npm run build && npx tsx bench/backups/backup-throughput.ts   (BENCH_MB=200 BENCH_RUNS=3 BENCH_ENC_RUNS=7 by default)
// End to end runs the compiled CLI (node dist/src/cli.js, what the Docker image runs) and the CLI under tsx.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freemem, totalmem, cpus, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { loadConfig } from '../../src/config.js';
import { createOpenSslEncryptor } from '../../src/platform/crypto/openssl-enc.js';
import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';

const MB = Number(process.env.BENCH_MB ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ENC_RUNS = Number(process.env.BENCH_ENC_RUNS ?? 7); // the throughput runs are short (< 1 s each)
const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = 'custos_bench_backups';
const databaseUrl = withDatabaseName(server, dbName);
const work = mkdtempSync(join(tmpdir(), 'custos-bench-backups-'));
const secrets = generateSecrets();
const env = {
  ...process.env,
  ...secrets,
  NODE_ENV: 'test',
  DATABASE_URL: databaseUrl,
  CUSTOS_LOG_LEVEL: 'warn',
  CUSTOS_DEV_SECRETS_FILE: '/nonexistent',
  CUSTOS_BACKUP_DIR: join(work, 'backups'),
  CUSTOS_KEYSTORE_BACKUP_DIR: join(work, 'keystore'),
  CUSTOS_QUEUE_PREFIX: 'custos_bench_backups',
  PGHOST: new URL(databaseUrl).hostname,
  PGPORT: new URL(databaseUrl).port || '5432',
  PGUSER: decodeURIComponent(new URL(databaseUrl).username) || 'postgres',
  PGDATABASE: dbName,
  BENCH_PASS: secrets.CUSTOS_BACKUP_PASSPHRASE,
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = async (fn: () => Promise<unknown> | unknown) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loads: string[] = [];
const sh = (command: string) => {
  const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
  return r.stdout;
};

async function main() {
  const startLoad = load();
  // A database whose dump is about BENCH_MB MiB: random bytes (so compression does not shrink it) plus app tables.
  const admin = createDb(withDatabaseName(server, 'postgres'), 1);
  await admin.raw(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${dbName}"`);
  await admin.destroy();
  await migrateDatabase(loadConfig(env));
  const db = createDb(databaseUrl, 1);
  const rows = Math.round((MB * 1048576) / 256);
  const fill = await seconds(() => db.raw(`CREATE TABLE bench_blobs AS SELECT g AS id, gen_random_bytes(256) AS payload FROM generate_series(1, ${rows}) g`));
  await db.destroy();
  await migrateDatabase(loadConfig(env)); // grants the runtime role (which the CLI runs as) the new table
  console.error(`filled ${rows} rows in ${fill.toFixed(1)} s`);

  const dumpFile = join(work, 'bench.dump');
  sh(`pg_dump -Fc --exclude-schema=keystore -f "${dumpFile}"`);
  const dumpBytes = statSync(dumpFile).size;
  const dumpMiB = dumpBytes / 1048576;
  console.error(`dump file ${dumpMiB.toFixed(1)} MiB`);

  // 1. Encryption throughput, interleaved so every variant sees the same machine load.
  const ours: number[] = [];
  const inline: number[] = [];
  const openssl: number[] = [];
  const bare: number[] = [];
  const encrypt = async (digestWorker?: boolean) => {
    const encryptor = await createOpenSslEncryptor(secrets.CUSTOS_BACKUP_PASSPHRASE, undefined, { digestWorker });
    await pipeline(createReadStream(dumpFile, { highWaterMark: 1 << 20 }), encryptor, createWriteStream('/dev/null'));
    encryptor.digests();
  };
  for (let i = 0; i < ENC_RUNS; i += 1) {
    // Attribution: the same AES-256-CBC through a Node stream, without the two SHA-256 passes.
    bare.push(await seconds(async () => {
      const cipher = createCipheriv('aes-256-cbc', randomBytes(32), randomBytes(16));
      const aesOnly = new Transform({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20, transform(c, _e, cb) { cb(null, cipher.update(c)); }, flush(cb) { cb(null, cipher.final()); } });
      await pipeline(createReadStream(dumpFile, { highWaterMark: 1 << 20 }), aesOnly, createWriteStream('/dev/null'));
    }));
    ours.push(await seconds(() => encrypt()));
    inline.push(await seconds(() => encrypt(false)));
    openssl.push(await seconds(() => sh(`openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -md sha256 -in "${dumpFile}" -out /dev/null -pass env:BENCH_PASS`)));
    loads.push(`throughput run ${i + 1}: ${load()}`);
  }
  rmSync(dumpFile);

  // 2. End to end on the same database.
  const cli: number[] = [];
  const tsxCli: number[] = [];
  const shell: number[] = [];
  const startup: number[] = [];
  mkdirSync(join(work, 'shell'), { recursive: true });
  for (let i = 0; i < RUNS; i += 1) {
    cli.push(await seconds(() => sh('node dist/src/cli.js backup run >/dev/null 2>&1')));
    shell.push(await seconds(() => sh(`pg_dump -Fc --exclude-schema=keystore | openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -md sha256 -pass env:BENCH_PASS -out "${join(work, 'shell', `b${i}.enc`)}"`)));
    tsxCli.push(await seconds(() => sh('node --import tsx src/cli.ts backup run >/dev/null 2>&1')));
    startup.push(await seconds(() => sh('node dist/src/cli.js backup list >/dev/null 2>&1')));
    rmSync(join(work, 'shell', `b${i}.enc`));
    sh(`rm -f "${join(work, 'backups')}"/*`);
    loads.push(`end-to-end run ${i + 1}: ${load()}`);
  }

  const oursMBs = dumpMiB / median(ours);
  const opensslMBs = dumpMiB / median(openssl);
  const e2eRatio = median(cli) / median(shell);
  const tsxRatio = median(tsxCli) / median(shell);
  const e2eNoStartup = (median(cli) - median(startup)) / median(shell);
  const report = `# Backups benchmark

Command: \`npm run build && npx tsx bench/backups/backup-throughput.ts\` (BENCH_MB=${MB}, BENCH_RUNS=${RUNS}, BENCH_ENC_RUNS=${ENC_RUNS}), ${new Date().toISOString()}
Machine: nproc ${cpus().length}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB), load at start ${startLoad}; PostgreSQL ${sh('psql -Atc "show server_version"').trim()}, ${sh('openssl version').trim()}, Node ${process.version}.
Data: ${rows} rows of 256 random bytes plus the migrated schema; pg_dump -Fc archive ${dumpMiB.toFixed(1)} MiB. Medians of ${ENC_RUNS} interleaved runs (throughput) and ${RUNS} (end to end).

## 1. Encryption throughput on the same dump file (read file, write /dev/null)

| | median s | MiB/s | ratio |
| --- | ---: | ---: | ---: |
| \`openssl enc -aes-256-cbc -pbkdf2 -iter 100000\` (baseline) | ${median(openssl).toFixed(2)} | ${opensslMBs.toFixed(0)} | 1.00 |
| Custos stream (AES-256-CBC on the main thread, both SHA-256 on a worker; the default with ≥ 2 cores) | ${median(ours).toFixed(2)} | ${oursMBs.toFixed(0)} | **${(oursMBs / opensslMBs).toFixed(2)}×** throughput (goal ≥ 0.9×) |
| Custos stream, digests inline (\`digestWorker: false\`, the one-core path) | ${median(inline).toFixed(2)} | ${(dumpMiB / median(inline)).toFixed(0)} | ${(dumpMiB / median(inline) / opensslMBs).toFixed(2)}× |
| Attribution: Node AES-256-CBC stream alone, no hashes, no PBKDF2 | ${median(bare).toFixed(2)} | ${(dumpMiB / median(bare)).toFixed(0)} | ${(dumpMiB / median(bare) / opensslMBs).toFixed(2)}× |

## 2. End to end on the same database

| | median s | ratio |
| --- | ---: | ---: |
| \`pg_dump -Fc \\| openssl enc …\` (baseline) | ${median(shell).toFixed(2)} | 1.00 |
| \`node dist/src/cli.js backup run\` (compiled, as in the Docker image; includes row counts, manifest, signature, DB row) | ${median(cli).toFixed(2)} | **${e2eRatio.toFixed(2)}×** time (goal ≤ 1.1×) |
| \`node --import tsx src/cli.ts backup run\` (development) | ${median(tsxCli).toFixed(2)} | ${tsxRatio.toFixed(2)}× |
| compiled CLI start-up alone (\`custos backup list\`) | ${median(startup).toFixed(2)} | |
| \`custos backup run\` minus start-up | ${(median(cli) - median(startup)).toFixed(2)} | ${e2eNoStartup.toFixed(2)}× |

Raw seconds — AES only: ${bare.map((x) => x.toFixed(2)).join(', ')}; ours: ${ours.map((x) => x.toFixed(2)).join(', ')}; ours inline: ${inline.map((x) => x.toFixed(2)).join(', ')}; openssl: ${openssl.map((x) => x.toFixed(2)).join(', ')}; compiled backup run: ${cli.map((x) => x.toFixed(2)).join(', ')}; tsx backup run: ${tsxCli.map((x) => x.toFixed(2)).join(', ')}; shell: ${shell.map((x) => x.toFixed(2)).join(', ')}; start-up: ${startup.map((x) => x.toFixed(2)).join(', ')}.

Load average (1/5/15 min) after each round: ${loads.join('; ')}.
`;
  writeFileSync('bench/results/backups.md', report);
  process.stdout.write(report);

  const cleanup = createDb(withDatabaseName(server, 'postgres'), 1);
  await cleanup.raw(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await cleanup.destroy();
  rmSync(work, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  rmSync(work, { recursive: true, force: true });
  process.exitCode = 1;
});
