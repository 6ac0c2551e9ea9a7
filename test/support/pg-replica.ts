// A PostgreSQL primary and a real streaming replica of it (a hot standby made by pg_basebackup),
// on free loopback ports in a temporary directory, for the read-replica tests. Both postmasters
// are child processes of the test run, stopped by close(). About 5 s to start on a loaded 2-core
// machine. As root (CI containers), the servers run as the `postgres` system user: PostgreSQL
// refuses to run as root.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { tempDir } from './temp.js';

export interface PgReplicaPair {
  /** Superuser URLs (trust authentication on loopback) of the primary and the standby, database `postgres`. */
  primaryUrl: string;
  replicaUrl: string;
  /** Stops replaying WAL on the standby (it keeps receiving it): the replica now lags. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the standby has replayed everything the primary had logged when called, flushed or not. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Shuts the standby down (fast shutdown), as a replica outage. */
  stopReplica(): Promise<void>;
  close(): Promise<void>;
}

function runAs(): Pick<SpawnOptions, 'uid' | 'gid'> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

function runTool(command: string, args: string[], as: Pick<SpawnOptions, 'uid' | 'gid'>): void {
  const res = spawnSync(command, args, { ...as, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.stdout || res.error}`);
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPgReplicaPair(): Promise<PgReplicaPair> {
  const dir = tempDir('pg-replica');
  const as = runAs();
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!);
  const servers: Array<{ child: ChildProcess; log: () => string }> = [];
  const start = async (data: string, port: number) => {
    const child = spawn('postgres', ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'shared_buffers=16MB', '-c', 'max_connections=60'], { ...as, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout!.on('data', (c) => { log += c; });
    child.stderr!.on('data', (c) => { log += c; });
    servers.push({ child, log: () => log });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${log.slice(-2000)}`);
      return (await query(url, 'SELECT 1')).rowCount ? url : undefined;
    }, `postgres on port ${port} did not accept connections`, 30_000);
    return url;
  };
  const stop = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT'); // PostgreSQL's fast shutdown
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  // Standby first, then the primary.
  const close = async () => {
    for (const { child } of [...servers].reverse()) await stop(child);
  };

  try {
    const [primaryPort, replicaPort] = [await freePort(), await freePort()];
    runTool('initdb', ['-D', join(dir, 'primary'), '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C'], as);
    const primaryUrl = await start(join(dir, 'primary'), primaryPort);
    // -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby.
    runTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', join(dir, 'replica'), '-R', '-X', 'stream', '-c', 'fast'], as);
    const replicaUrl = await start(join(dir, 'replica'), replicaPort);
    const pair: PgReplicaPair = {
      primaryUrl,
      replicaUrl,
      async pauseReplay() {
        await query(replicaUrl, 'SELECT pg_wal_replay_pause()');
        await until(async () => ((await query(replicaUrl, 'SELECT pg_get_wal_replay_pause_state() AS s')).rows[0].s === 'paused' ? true : undefined), 'replay did not pause', 10_000);
      },
      async resumeReplay() {
        await query(replicaUrl, 'SELECT pg_wal_replay_resume()');
      },
      async caughtUp(timeoutMs = 30_000) {
        // The insert position, not pg_current_wal_lsn (the write position): these clusters run with
        // synchronous_commit=off, so a commit can sit in WAL buffers past the write position for up
        // to wal_writer_delay, and waiting for the write position then returned before it (a flake).
        const { rows: [{ lsn }] } = await query(primaryUrl, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
        await until(async () => ((await query(replicaUrl, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn])).rows[0].done ? true : undefined),
          'the replica did not catch up', timeoutMs);
      },
      stopReplica: () => stop(servers[1].child),
      close,
    };
    const { rows: [standby] } = await query(replicaUrl, 'SELECT pg_is_in_recovery() AS recovering');
    if (!standby.recovering) throw new Error('the copy made by pg_basebackup is not a standby');
    return pair;
  } catch (error) {
    const logs = servers.map((s) => s.log().slice(-1500)).join('\n---\n');
    await close();
    throw new Error(`${(error as Error).message}${logs ? `\n${logs}` : ''}`);
  }
}
