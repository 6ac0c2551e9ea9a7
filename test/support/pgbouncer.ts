// A real PgBouncer (Debian's pgbouncer, installed by .ci/run) in front of the test database, for
// tests of what Custos does behind a connection pooler. Trust authentication on 127.0.0.1, as the
// test PostgreSQL has; PgBouncer still wants every user it lets in listed in its auth file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { freePort } from './ports.js';
import { toolPath } from './tools.js';

export interface PgBouncer {
  /** DATABASE_URL with PgBouncer's address in place of PostgreSQL's. */
  url: string;
  close(): Promise<void>;
}

/** PgBouncer's version, e.g. [1, 18] (`pgbouncer -V`). */
function version(): [number, number] {
  const match = /PgBouncer (\d+)\.(\d+)/.exec(spawnSync(toolPath('pgbouncer'), ['-V'], { encoding: 'utf8' }).stdout);
  if (!match) throw new Error('pgbouncer -V printed no version');
  return [Number(match[1]), Number(match[2])];
}

/** PgBouncer refuses to run as root: as root it is told to switch to the PostgreSQL account. */
const runAs = () => (process.getuid?.() === 0 && spawnSync('id', ['postgres'], { stdio: 'ignore' }).status === 0 ? ['-u', 'postgres'] : []);

export async function startPgBouncer(poolMode: 'transaction' | 'session', poolSize = 4): Promise<PgBouncer> {
  const database = new URL(process.env.DATABASE_URL!);
  const users = [decodeURIComponent(database.username) || 'postgres', loadConfig(process.env).database.runtimeRole];
  const dir = mkdtempSync(join(tmpdir(), 'custos-pgbouncer-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o644);
    return join(dir, name);
  };
  const [major, minor] = version();
  const authFile = write('users.txt', users.map((u) => `"${u}" ""\n`).join(''));
  const ini = write('pgbouncer.ini', [
    '[databases]',
    `* = host=${database.hostname} port=${database.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =',
    'auth_type = trust', `auth_file = ${authFile}`,
    `pool_mode = ${poolMode}`, `default_pool_size = ${poolSize}`, 'max_client_conn = 500',
    // node-postgres sends it at startup; PgBouncer refuses unknown startup parameters otherwise.
    'ignore_startup_parameters = extra_float_digits',
    // 1.21 and later keep prepared statements across server sessions; the tests want the older
    // behaviour, which Debian's 1.18 has and is what many deployments still run.
    ...(major > 1 || minor >= 21 ? ['max_prepared_statements = 0'] : []),
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(toolPath('pgbouncer'), [...runAs(), ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000); });
  const url = new URL(database);
  url.port = String(port);
  url.hostname = '127.0.0.1';

  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2000 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill();
        throw new Error(`PgBouncer did not start (${(error as Error).message}): ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await probe.end().catch(() => {});
    }
  }
  return {
    url: url.toString(),
    // SIGTERM is PgBouncer's immediate shutdown (SIGINT waits for clients); SIGKILL if it hangs.
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => { clearTimeout(kill); resolve(); });
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
