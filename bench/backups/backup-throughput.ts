// Benchmark of the backup path, measured against the tools it replaces, in the same run:
//  1. encryption throughput: our stream (AES-256-CBC + SHA-256 of plaintext and ciphertext) versus
//     `openssl enc -aes-256-cbc -pbkdf2 -iter 100000` on the same pg_dump file;
//  2. end to end: `custos backup run` versus `pg_dump -Fc | openssl enc …` on the same database.
// Goals (issue 6): ≥ 0.9× openssl's throughput; end to end ≤ 1.1× the shell pipeline's time.
// Run: npx tsx bench/backups/backup-throughput.ts   (BENCH_MB=200 BENCH_RUNS=3 by default)
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { freemem, totalmem, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createDb, migrateLatest, withDatabaseName } from '../../src/platform/db.js';
import { createOpenSslEncryptor } from '../../src/platform/crypto/openssl-enc.js';
import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';

const MB = Number(process.env.BENCH_MB ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
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
const sh = (command: string) => {
  const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${command}: ${r.stderr}`);
  return r.stdout;
};

async function main() {
  // A database whose dump is about BENCH_MB MiB: random bytes (so compression does not shrink it) plus app tables.
  const admin = createDb(withDatabaseName(server, 'postgres'), 1);
  await admin.raw(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${dbName}"`);
  await admin.destroy();
  const db = createDb(databaseUrl, 1);
  await migrateLatest(db);
  const rows = Math.round((MB * 1048576) / 256);
  const fill = await seconds(() => db.raw(`CREATE TABLE bench_blobs AS SELECT g AS id, gen_random_bytes(256) AS payload FROM generate_series(1, ${rows}) g`));
  await db.destroy();
  console.error(`filled ${rows} rows in ${fill.toFixed(1)} s`);

  const dumpFile = join(work, 'bench.dump');
  sh(`pg_dump -Fc --exclude-schema=keystore -f "${dumpFile}"`);
  const dumpBytes = statSync(dumpFile).size;
  const dumpMiB = dumpBytes / 1048576;
  console.error(`dump file ${dumpMiB.toFixed(1)} MiB`);

  // 1. Encryption throughput, interleaved so both see the same machine load.
  const ours: number[] = [];
  const openssl: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    // Attribution: the same AES-256-CBC through a Node stream, without the two SHA-256 passes.
    bare.push(await seconds(async () => {
      const cipher = createCipheriv('aes-256-cbc', randomBytes(32), randomBytes(16));
      const aesOnly = new Transform({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20, transform(c, _e, cb) { cb(null, cipher.update(c)); }, flush(cb) { cb(null, cipher.final()); } });
      await pipeline(createReadStream(dumpFile, { highWaterMark: 1 << 20 }), aesOnly, createWriteStream('/dev/null'));
    }));
    ours.push(await seconds(async () => {
      const encryptor = await createOpenSslEncryptor(secrets.CUSTOS_BACKUP_PASSPHRASE);
      await pipeline(createReadStream(dumpFile, { highWaterMark: 1 << 20 }), encryptor, createWriteStream('/dev/null'));
      encryptor.digests();
    }));
    openssl.push(await seconds(() => sh(`openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -md sha256 -in "${dumpFile}" -out /dev/null -pass env:BENCH_PASS`)));
  }
  rmSync(dumpFile);

  // 2. End to end on the same database.
  const cli: number[] = [];
  const shell: number[] = [];
  const startup: number[] = [];
  mkdirSync(join(work, 'shell'), { recursive: true });
  for (let i = 0; i < RUNS; i += 1) {
    cli.push(await seconds(() => sh('node --import tsx src/cli.ts backup run >/dev/null 2>&1')));
    shell.push(await seconds(() => sh(`pg_dump -Fc --exclude-schema=keystore | openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -md sha256 -pass env:BENCH_PASS -out "${join(work, 'shell', `b${i}.enc`)}"`)));
    startup.push(await seconds(() => sh('node --import tsx src/cli.ts backup list >/dev/null 2>&1')));
    rmSync(join(work, 'shell', `b${i}.enc`));
    sh(`rm -f "${join(work, 'backups')}"/*`);
  }

  const oursMBs = dumpMiB / median(ours);
  const opensslMBs = dumpMiB / median(openssl);
  const e2eRatio = median(cli) / median(shell);
  const e2eNoStartup = (median(cli) - median(startup)) / median(shell);
  const report = `# Backups benchmark

Command: \`npx tsx bench/backups/backup-throughput.ts\` (BENCH_MB=${MB}, BENCH_RUNS=${RUNS}), ${new Date().toISOString()}
Machine: nproc ${cpus().length}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB (free ${(freemem() / 2 ** 30).toFixed(1)} GiB), shared with other engineers' test runs; PostgreSQL ${sh('psql -Atc "show server_version"').trim()}, ${sh('openssl version').trim()}, Node ${process.version}.
Data: ${rows} rows of 256 random bytes plus the migrated schema; pg_dump -Fc archive ${dumpMiB.toFixed(1)} MiB. Medians of ${RUNS} interleaved runs.

## 1. Encryption throughput on the same dump file (read file, write /dev/null)

| | median s | MiB/s | ratio |
| --- | ---: | ---: | ---: |
| \`openssl enc -aes-256-cbc -pbkdf2 -iter 100000\` (baseline) | ${median(openssl).toFixed(2)} | ${opensslMBs.toFixed(0)} | 1.00 |
| Custos stream (AES-256-CBC + SHA-256 of plaintext and ciphertext) | ${median(ours).toFixed(2)} | ${oursMBs.toFixed(0)} | **${(oursMBs / opensslMBs).toFixed(2)}×** throughput (goal ≥ 0.9×) |
| Attribution: Node AES-256-CBC stream alone, no hashes, no PBKDF2 | ${median(bare).toFixed(2)} | ${(dumpMiB / median(bare)).toFixed(0)} | ${(dumpMiB / median(bare) / opensslMBs).toFixed(2)}× |

## 2. End to end on the same database

| | median s | ratio |
| --- | ---: | ---: |
| \`pg_dump -Fc \\| openssl enc …\` (baseline) | ${median(shell).toFixed(2)} | 1.00 |
| \`custos backup run\` (child process, tsx; includes row counts, manifest, signature, DB row) | ${median(cli).toFixed(2)} | **${e2eRatio.toFixed(2)}×** time (goal ≤ 1.1×) |
| CLI start-up alone (\`custos backup list\`) | ${median(startup).toFixed(2)} | |
| \`custos backup run\` minus start-up | ${(median(cli) - median(startup)).toFixed(2)} | ${e2eNoStartup.toFixed(2)}× |

Raw seconds — AES only: ${bare.map((x) => x.toFixed(2)).join(', ')}; ours: ${ours.map((x) => x.toFixed(2)).join(', ')}; openssl: ${openssl.map((x) => x.toFixed(2)).join(', ')}; custos backup run: ${cli.map((x) => x.toFixed(2)).join(', ')}; shell: ${shell.map((x) => x.toFixed(2)).join(', ')}; start-up: ${startup.map((x) => x.toFixed(2)).join(', ')}.
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
