#!/usr/bin/env node
// Custos development services: makes sure PostgreSQL and Redis are reachable, then runs a command.
//
//   node scripts/services.mjs run  -- <command...>   (npm start)
//   node scripts/services.mjs test -- <command...>   (npm test)
//   node scripts/services.mjs stop                   stop private instances left running
//
// It uses the servers named by DATABASE_URL / REDIS_URL when they answer. Otherwise it starts
// private instances from local binaries (data under .local/services/), hands their URLs to the
// command, and stops them when the command exits. Plain Node 20 ESM on purpose: it must run
// before anything is compiled.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fs.realpathSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));

// The development database of this checkout, custos_<directory>_<hash of its path>: a second
// clone, with its own development secrets, never opens the first one's encrypted data. The same
// rule as checkoutDatabaseName() in src/platform/database-names.ts (a test checks they agree).
export function checkoutDatabaseName(root = REPO) {
  const slug = path.basename(root).toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 24) || 'checkout';
  return `custos_${slug}_${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
}
const DEFAULT_DATABASE_URL = `postgres://postgres@127.0.0.1:5432/${checkoutDatabaseName()}`;

/** DATABASE_URL as given, or this checkout's database on the server it names when it names none. */
function withCheckoutDatabase(url) {
  const parsed = new URL(url);
  if (parsed.pathname.replace(/^\//, '')) return url;
  parsed.pathname = `/${checkoutDatabaseName()}`;
  return parsed.toString();
}
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const MIN_PG_MAJOR = 15;
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

const HELP = `Usage:
  node scripts/services.mjs run  -- <command...>   ensure services (creating the database), run command
  node scripts/services.mjs test -- <command...>   ensure services, run command with NODE_ENV=test
  node scripts/services.mjs stop                   stop private instances left running
  node scripts/services.mjs --help

Uses DATABASE_URL (default ${DEFAULT_DATABASE_URL}, this checkout's own database;
a DATABASE_URL without a database name means this checkout's database on that server) and REDIS_URL
(default ${DEFAULT_REDIS_URL}) when they answer. Otherwise starts private PostgreSQL
(>= ${MIN_PG_MAJOR}) and Redis instances from local binaries, with data under .local/services/, on free
ports, passes their URLs to the command, and stops them when it exits. The command's exit code is
returned. node_modules/.bin is put first on PATH.`;

// ---------------------------------------------------------------------------------------------
// small helpers

function log(msg) {
  process.stderr.write(`services: ${msg}\n`);
}

class Fatal extends Error {}

function fail(msg) {
  throw new Fatal(msg);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function rel(p) {
  const r = path.relative(REPO, p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, cmd);
    if (isExecutable(file)) return file;
  }
  return null;
}

function globDirs(parent, prefix, suffix = '') {
  try {
    return fs
      .readdirSync(parent)
      .filter((name) => name.startsWith(prefix))
      .map((name) => path.join(parent, name, suffix));
  } catch {
    return [];
  }
}

function shQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

function hostPort(url, defaultPort) {
  return `${url.hostname || '127.0.0.1'}:${url.port || defaultPort}`;
}

function processAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Runs a command synchronously; as the postgres system user when asUser is given (we are root).
function run(cmd, args, { asUser, env, allowFail = false, quiet = false } = {}) {
  let file = cmd;
  let argv = args;
  if (asUser) {
    const runuser = which('runuser') ?? ['/usr/sbin/runuser', '/sbin/runuser'].find(isExecutable);
    if (runuser) {
      file = runuser;
      argv = ['-u', asUser, '--', cmd, ...args];
    } else {
      file = 'su';
      argv = ['-s', '/bin/sh', asUser, '-c', [cmd, ...args].map(shQuote).join(' ')];
    }
  }
  const res = spawnSync(file, argv, {
    cwd: os.tmpdir(), // the postgres user may not be allowed into the current directory
    env: env ?? process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
  if (res.error || res.status !== 0) {
    if (allowFail) return { ok: false, out, status: res.status };
    const why = res.error ? res.error.message : `exit code ${res.status}`;
    fail(`${[cmd, ...args].join(' ')} failed (${why})${quiet || !out ? '' : `:\n${out}`}`);
  }
  return { ok: true, out, status: 0 };
}

async function importDeps() {
  try {
    const pg = (await import('pg')).default;
    const { Redis } = await import('ioredis');
    return { pg, Redis };
  } catch (err) {
    fail(`cannot load the pg/ioredis packages (${err.message}); run \`npm install\` first`);
  }
}

// ---------------------------------------------------------------------------------------------
// probing the configured servers

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

// -> { ok: true } | { ok: false, reachable: boolean, reason: string }
async function probePostgres(pg, url) {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    const timedOut = /timeout/i.test(err.message ?? '');
    const reachable = !UNREACHABLE.has(err.code) && !timedOut && !(err.errors?.length > 0);
    return { ok: false, reachable, reason: err.message || err.code || String(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(Redis, url) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let lastError = null;
  client.on('error', (err) => {
    lastError = err;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== 'PONG') return { ok: false, reachable: true, reason: `PING answered ${pong}` };
    return { ok: true };
  } catch (err) {
    // "Connection is closed." hides the cause (ECONNREFUSED...), which the error event carried
    const cause = /Connection is closed/.test(err.message ?? '') && lastError ? lastError : err;
    const msg = cause.message || cause.code || String(cause);
    const reachable = /NOAUTH|WRONGPASS|ERR|LOADING|MISCONF/.test(msg) && !UNREACHABLE.has(cause.code);
    return { ok: false, reachable, reason: msg };
  } finally {
    client.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// binaries

function pgMajorOf(bindir) {
  const res = spawnSync(path.join(bindir, 'initdb'), ['--version'], { encoding: 'utf8' });
  const m = /\(PostgreSQL\)\s+(\d+)/.exec(res.stdout ?? '');
  return m ? Number(m[1]) : null;
}

// All PostgreSQL installations with initdb and pg_ctl, newest first: [{ bindir, major }]
function findPostgresInstalls() {
  const dirs = new Set();
  const add = (dir) => {
    const initdb = path.join(dir, 'initdb');
    if (!isExecutable(initdb) || !isExecutable(path.join(dir, 'pg_ctl'))) return;
    // /usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/15/bin: use the real dir,
    // where pg_ctl and postgres of the same version live side by side.
    const real = path.dirname(fs.realpathSync(initdb));
    dirs.add(isExecutable(path.join(real, 'pg_ctl')) ? real : dir);
  };
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) add(dir);
  for (const dir of globDirs('/usr/lib/postgresql', '', 'bin')) add(dir); // Debian/Ubuntu
  for (const dir of globDirs('/usr', 'pgsql-', 'bin')) add(dir); // RHEL/PGDG
  for (const parent of ['/opt/homebrew/opt', '/usr/local/opt']) {
    for (const dir of globDirs(parent, 'postgresql', 'bin')) add(dir); // Homebrew
  }
  for (const dir of globDirs('/Applications/Postgres.app/Contents/Versions', '', 'bin')) add(dir);
  const found = [];
  for (const bindir of dirs) {
    const major = pgMajorOf(bindir);
    if (major) found.push({ bindir, major });
  }
  return found.sort((a, b) => b.major - a.major);
}

function findRedisServer() {
  return (
    which('redis-server') ??
    ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin']
      .map((d) => path.join(d, 'redis-server'))
      .find(isExecutable) ??
    null
  );
}

function installHint() {
  if (process.platform === 'darwin') {
    return [
      'Install them with Homebrew:',
      '    brew install postgresql@16 redis',
      'or run them in Docker:',
      '    docker compose up -d postgres redis',
      '    export DATABASE_URL=postgres://postgres:custos@127.0.0.1:5432/custos',
    ].join('\n');
  }
  return [
    'Install them (Debian/Ubuntu):',
    '    sudo apt-get install -y postgresql redis-server',
    'or run them in Docker:',
    '    docker compose up -d postgres redis',
    '    export DATABASE_URL=postgres://postgres:custos@127.0.0.1:5432/custos',
  ].join('\n');
}

// Makes sure the binaries we need exist; installs them with apt-get when root on Debian/Ubuntu.
function ensureBinaries({ needPg, needRedis }) {
  const pgOk = () => findPostgresInstalls().some((i) => i.major >= MIN_PG_MAJOR);
  const missing = [];
  if (needPg && !pgOk()) missing.push('postgresql');
  if (needRedis && !findRedisServer()) missing.push('redis-server');
  if (missing.length === 0) return;

  const what = missing.map((p) => (p === 'postgresql' ? `PostgreSQL >= ${MIN_PG_MAJOR}` : 'Redis')).join(' and ');
  const aptGet = which('apt-get');
  if (IS_ROOT && aptGet && process.platform === 'linux') {
    log(`${what} not found locally; installing with apt-get (running as root)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', ...missing]]) {
      log(`running: apt-get ${args.join(' ')}`);
      const res = spawnSync(aptGet, args, { stdio: ['ignore', 2, 2], env }); // keep stdout for the command
      if (res.status !== 0) fail(`apt-get ${args.join(' ')} failed\n${installHint()}`);
    }
    if (needPg && !pgOk()) fail(`PostgreSQL >= ${MIN_PG_MAJOR} still not found after apt-get install\n${installHint()}`);
    if (needRedis && !findRedisServer()) fail(`redis-server still not found after apt-get install\n${installHint()}`);
    return;
  }
  fail(`${what} not reachable and not installed locally.\n${installHint()}`);
}

// ---------------------------------------------------------------------------------------------
// where private data lives

function postgresUser() {
  if (!IS_ROOT) return null;
  const res = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (res.status !== 0) {
    fail(
      'running as root, and PostgreSQL refuses to run as root, but there is no `postgres` system user.\n' +
        'Create one (useradd --system --create-home postgres) or run as a normal user.',
    );
  }
  const uid = Number(res.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { name: 'postgres', uid, gid };
}

const primaryBase = () => path.join(REPO, '.local', 'services');
// Used when the postgres system user cannot reach the repository (e.g. it lives under /root).
const fallbackBase = () =>
  path.join(os.tmpdir(), `custos-services-${createHash('sha1').update(REPO).digest('hex').slice(0, 8)}`);

function pgDirName(mode) {
  return mode === 'test' ? 'pg-test' : 'pg';
}

function redisDirName(mode) {
  return mode === 'test' ? 'redis-test' : 'redis';
}

// ---------------------------------------------------------------------------------------------
// private PostgreSQL

function readPostmasterPid(datadir) {
  try {
    const lines = fs.readFileSync(path.join(datadir, 'postmaster.pid'), 'utf8').split('\n');
    return { pid: Number(lines[0]), port: Number(lines[3]) };
  } catch {
    return null;
  }
}

function pgCtl(bindir, args, user, opts = {}) {
  return run(path.join(bindir, 'pg_ctl'), args, { asUser: user?.name, ...opts });
}

async function startPrivatePostgres(mode, dbUrl, cleanups) {
  const installs = findPostgresInstalls().filter((i) => i.major >= MIN_PG_MAJOR);
  const user = postgresUser();

  let base = primaryBase();
  let root = path.join(base, pgDirName(mode));
  fs.mkdirSync(root, { recursive: true });
  if (user && !run('test', ['-x', root], { asUser: user.name, allowFail: true }).ok) {
    fs.rmSync(root, { recursive: true, force: true }); // just created, empty
    base = fallbackBase();
    root = path.join(base, pgDirName(mode));
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    fs.chmodSync(base, 0o755);
    log(`the postgres user cannot reach ${REPO}; keeping PostgreSQL data in ${root} instead`);
  }
  const datadir = path.join(root, 'data');
  let sockdir = path.join(root, 'run');
  const logfile = path.join(root, 'postgres.log');
  if (Buffer.byteLength(path.join(sockdir, '.s.PGSQL.65535.lock')) > 100) {
    sockdir = path.join(fallbackBase(), `${pgDirName(mode)}-run`); // unix socket paths are short
  }
  fs.mkdirSync(sockdir, { recursive: true });
  if (user) {
    if (fs.statSync(root).uid !== user.uid) run('chown', ['-R', `${user.uid}:${user.gid}`, root]);
    if (fs.statSync(sockdir).uid !== user.uid) run('chown', ['-R', `${user.uid}:${user.gid}`, sockdir]);
  }

  // Pick the binaries: the data directory's version if it already exists, else the newest.
  let install = installs[0];
  const pgVersionFile = path.join(datadir, 'PG_VERSION');
  if (fs.existsSync(pgVersionFile)) {
    const dataMajor = Number(fs.readFileSync(pgVersionFile, 'utf8').trim());
    const same = installs.find((i) => i.major === dataMajor);
    if (same) {
      install = same;
    } else {
      const aside = `${datadir}.pg${dataMajor}.${Date.now()}`;
      fs.renameSync(datadir, aside);
      log(`${rel(datadir)} holds PostgreSQL ${dataMajor} data and no PostgreSQL ${dataMajor} is installed; moved it to ${rel(aside)}`);
    }
  }
  const { bindir, major } = install;

  // Left running by an earlier run that did not stop it (killed, crashed)? Use it as it is.
  const running = readPostmasterPid(datadir);
  if (running && processAlive(running.pid) && pgCtl(bindir, ['status', '-D', datadir], user, { allowFail: true }).ok) {
    log(
      `using private PostgreSQL ${major} left running on 127.0.0.1:${running.port} (data in ${rel(root)}); ` +
        '`node scripts/services.mjs stop` stops it',
    );
    return withDatabase(dbUrl, running.port);
  }

  if (!fs.existsSync(pgVersionFile)) {
    log(`initialising a private PostgreSQL ${major} data directory in ${rel(datadir)}`);
    fs.rmSync(datadir, { recursive: true, force: true });
    run(path.join(bindir, 'initdb'), ['-D', datadir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      asUser: user?.name,
    });
    fs.appendFileSync(path.join(datadir, 'postgresql.conf'), "\ninclude_if_exists = 'custos.conf'\n");
  }

  const port = await freePort();
  const settings = {
    port,
    listen_addresses: '127.0.0.1',
    unix_socket_directories: sockdir,
    max_connections: 200,
    // test data is throw-away: trade crash safety for speed
    ...(mode === 'test' ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
  };
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${String(v).replace(/'/g, "''")}'`}`)
    .join('\n');
  fs.writeFileSync(path.join(datadir, 'custos.conf'), `# written by scripts/services.mjs on every start\n${conf}\n`);
  if (user) fs.chownSync(path.join(datadir, 'custos.conf'), user.uid, user.gid);

  const started = pgCtl(bindir, ['start', '-D', datadir, '-l', logfile, '-w', '-t', '60'], user, { allowFail: true });
  if (!started.ok) {
    let tail = '';
    try {
      tail = fs.readFileSync(logfile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {}
    fail(`private PostgreSQL did not start:\n${started.out}\n--- ${logfile} ---\n${tail}`);
  }
  cleanups.push(async () => {
    const res = pgCtl(bindir, ['stop', '-D', datadir, '-m', 'fast', '-w', '-t', '60'], user, { allowFail: true });
    if (res.ok) log(`stopped private PostgreSQL on 127.0.0.1:${port}`);
    else log(`could not stop private PostgreSQL (${res.out}); \`node scripts/services.mjs stop\` retries`);
  });
  log(`started private PostgreSQL ${major} on 127.0.0.1:${port} (data in ${rel(root)})`);
  return withDatabase(dbUrl, port);
}

function withDatabase(dbUrl, port) {
  const database = decodeURIComponent(new URL(dbUrl).pathname.replace(/^\//, '')) || checkoutDatabaseName();
  return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function ensureDatabase(pg, url) {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!name || name === 'postgres') return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      log(`created database ${name}`);
    }
  } catch (err) {
    fail(`cannot create database ${name} at ${hostPort(parsed, 5432)}: ${err.message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// private Redis

async function startPrivateRedis(mode, redisUrl, Redis, cleanups) {
  const server = findRedisServer();
  const dir = path.join(primaryBase(), redisDirName(mode));
  fs.mkdirSync(dir, { recursive: true });
  const pidfile = path.join(dir, 'redis.pid');
  const logfile = path.join(dir, 'redis.log');
  const db = new URL(redisUrl).pathname.replace(/^\//, '');
  const urlFor = (port) => `redis://127.0.0.1:${port}${db ? `/${db}` : ''}`;

  // Left running by an earlier run? Reuse it.
  const leftover = readRedisPid(dir);
  if (leftover && processAlive(leftover.pid) && leftover.port) {
    const probe = await probeRedis(Redis, urlFor(leftover.port));
    if (probe.ok) {
      log(`using private Redis left running on 127.0.0.1:${leftover.port}; \`node scripts/services.mjs stop\` stops it`);
      return urlFor(leftover.port);
    }
  }

  const port = await freePort();
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', dir,
    '--pidfile', pidfile,
    '--logfile', logfile,
  ];
  // Own process group: a Ctrl-C in the terminal must not stop Redis under a command that is
  // still shutting down; we stop it ourselves once the command has exited.
  const child = spawn(server, args, { stdio: 'ignore', detached: true });
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, err };
      resolve(exited);
    });
  });
  fs.writeFileSync(path.join(dir, 'port'), `${port}\n`);

  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const done = await Promise.race([exitPromise, sleep(10000).then(() => null)]);
    if (!done) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    fs.rmSync(pidfile, { force: true });
    log(`stopped private Redis on 127.0.0.1:${port}`);
  };
  cleanups.push(stop);

  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited) {
      let tail = '';
      try {
        tail = fs.readFileSync(logfile, 'utf8').split('\n').slice(-10).join('\n');
      } catch {}
      fail(`private Redis exited at start (${exited.err?.message ?? `code ${exited.code}`})\n${tail}`);
    }
    if ((await probeRedis(Redis, urlFor(port))).ok) break;
    if (Date.now() > deadline) fail(`private Redis did not answer on 127.0.0.1:${port} within 15 s (see ${logfile})`);
    await sleep(100);
  }
  const version = spawnSync(server, ['--version'], { encoding: 'utf8' }).stdout?.match(/v=(\d+)/)?.[1];
  log(`started private Redis${version ? ` ${version}` : ''} on 127.0.0.1:${port} (log in ${rel(logfile)})`);
  return urlFor(port);
}

function readRedisPid(dir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'redis.pid'), 'utf8').trim());
    const port = Number(fs.readFileSync(path.join(dir, 'port'), 'utf8').trim());
    return { pid, port };
  } catch {
    return null;
  }
}

function isRedisProcess(pid) {
  try {
    return /redis/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    const res = spawnSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' });
    return /redis/.test(res.stdout ?? '');
  }
}

// ---------------------------------------------------------------------------------------------
// stop: private instances left running by runs that could not clean up

async function stopLeftovers() {
  let stopped = 0;
  const installs = findPostgresInstalls();
  const user = IS_ROOT && spawnSync('id', ['-u', 'postgres']).status === 0 ? postgresUser() : null;
  for (const base of [primaryBase(), fallbackBase()]) {
    for (const mode of ['run', 'test']) {
      const datadir = path.join(base, pgDirName(mode), 'data');
      const pm = readPostmasterPid(datadir);
      if (pm && processAlive(pm.pid)) {
        let major = null;
        try {
          major = Number(fs.readFileSync(path.join(datadir, 'PG_VERSION'), 'utf8').trim());
        } catch {}
        const install = installs.find((i) => i.major === major) ?? installs[0];
        if (install) {
          const res = pgCtl(install.bindir, ['stop', '-D', datadir, '-m', 'fast', '-w', '-t', '60'], user, { allowFail: true });
          if (res.ok) {
            log(`stopped private PostgreSQL (pid ${pm.pid}, port ${pm.port}, data in ${rel(datadir)})`);
            stopped++;
            continue;
          }
        }
        log(`sending SIGTERM to private PostgreSQL pid ${pm.pid}`);
        process.kill(pm.pid, 'SIGTERM');
        stopped++;
      }
    }
    for (const mode of ['run', 'test']) {
      const dir = path.join(base, redisDirName(mode));
      const rp = readRedisPid(dir);
      if (rp && processAlive(rp.pid) && isRedisProcess(rp.pid)) {
        process.kill(rp.pid, 'SIGTERM');
        for (let i = 0; i < 100 && processAlive(rp.pid); i++) await sleep(100);
        fs.rmSync(path.join(dir, 'redis.pid'), { force: true });
        log(`stopped private Redis (pid ${rp.pid}, port ${rp.port})`);
        stopped++;
      }
    }
  }
  if (stopped === 0) log('no private PostgreSQL or Redis instance is running');
  return 0;
}

// ---------------------------------------------------------------------------------------------
// main

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  if (!mode || mode === '--help' || mode === '-h' || mode === 'help') return { mode: 'help' };
  if (mode === 'stop') return { mode };
  if (mode !== 'run' && mode !== 'test') return { mode: 'bad', error: `unknown mode "${mode}"` };
  const sep = rest.indexOf('--');
  const command = sep >= 0 ? rest.slice(sep + 1) : rest;
  if (rest.includes('--help') && (sep < 0 || rest.indexOf('--help') < sep)) return { mode: 'help' };
  if (command.length === 0) return { mode: 'bad', error: `${mode} needs a command after --` };
  return { mode, command };
}

const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.mode === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (args.mode === 'bad') {
    process.stderr.write(`services: ${args.error}\n\n${HELP}\n`);
    return 2;
  }
  if (args.mode === 'stop') return stopLeftovers();

  const { mode, command } = args;
  const cleanups = [];
  let child = null;
  let interrupted = null;
  let lastForward = { signal: null, at: 0 };

  // Signals: before the command runs, stop what was started and leave; once it runs, forward
  // them (once: a terminal's Ctrl-C reaches both us and the child, npm forwards it again).
  const onSignal = (signal) => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const now = Date.now();
      if (lastForward.signal === signal && now - lastForward.at < 500) return;
      lastForward = { signal, at: now };
      try {
        child.kill(signal);
      } catch {}
      return;
    }
    if (!interrupted) {
      interrupted = signal;
      log(`${signal} received, stopping services`);
    }
  };
  for (const s of signals) process.on(s, onSignal);

  const cleanup = async () => {
    while (cleanups.length) {
      const fn = cleanups.pop();
      try {
        await fn();
      } catch (err) {
        log(`cleanup failed: ${err.message}`);
      }
    }
  };
  const checkInterrupted = async () => {
    if (interrupted) {
      await cleanup();
      process.exit(128 + (os.constants.signals[interrupted] ?? 2));
    }
  };

  try {
    const { pg, Redis } = await importDeps();
    const databaseUrlSet = Boolean(process.env.DATABASE_URL);
    const redisUrlSet = Boolean(process.env.REDIS_URL);
    let databaseUrl = withCheckoutDatabase(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
    let redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;

    const [pgProbe, redisProbe] = await Promise.all([probePostgres(pg, databaseUrl), probeRedis(Redis, redisUrl)]);
    const pgWhere = hostPort(new URL(databaseUrl), 5432);
    const redisWhere = hostPort(new URL(redisUrl), 6379);

    // A server that answers but refuses us is a configuration problem when the URL was given
    // explicitly; with the defaults it is usually a system PostgreSQL asking for a password,
    // and a private instance is the helpful answer.
    if (!pgProbe.ok && pgProbe.reachable && databaseUrlSet) {
      fail(`PostgreSQL at ${pgWhere} answers but refused the connection: ${pgProbe.reason}\nFix DATABASE_URL, or unset it to use a private instance.`);
    }
    if (!redisProbe.ok && redisProbe.reachable && redisUrlSet) {
      fail(`Redis at ${redisWhere} answers but refused: ${redisProbe.reason}\nFix REDIS_URL, or unset it to use a private instance.`);
    }
    if (pgProbe.ok) log(`using PostgreSQL at ${pgWhere}`);
    else log(`no usable PostgreSQL at ${pgWhere} (${pgProbe.reason}); starting a private one`);
    if (redisProbe.ok) log(`using Redis at ${redisWhere}`);
    else log(`no usable Redis at ${redisWhere} (${redisProbe.reason}); starting a private one`);

    ensureBinaries({ needPg: !pgProbe.ok, needRedis: !redisProbe.ok });
    await checkInterrupted();
    if (!pgProbe.ok) databaseUrl = await startPrivatePostgres(mode, databaseUrl, cleanups);
    await checkInterrupted();
    if (!redisProbe.ok) redisUrl = await startPrivateRedis(mode, redisUrl, Redis, cleanups);
    await checkInterrupted();

    if (mode === 'run') await ensureDatabase(pg, databaseUrl);
    await checkInterrupted();

    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      PATH: [path.join(REPO, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(path.delimiter),
    };
    if (mode === 'test' && !env.NODE_ENV) env.NODE_ENV = 'test';

    const result = await new Promise((resolve) => {
      child = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
      child.on('error', (err) => {
        log(`cannot run ${command[0]}: ${err.code === 'ENOENT' ? 'command not found' : err.message}`);
        resolve({ code: 127, signal: null });
      });
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    await cleanup();
    if (result.signal) return 128 + (os.constants.signals[result.signal] ?? 0);
    return result.code ?? 1;
  } catch (err) {
    await cleanup();
    if (err instanceof Fatal) {
      process.stderr.write(`services: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url))) main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`services: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
