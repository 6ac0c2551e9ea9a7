// pg_dump and pg_restore as child processes (the binaries on PATH). The connection travels in
// the PG* environment variables of the child, never on its command line, so a password cannot
// show up in `ps` output, logs or error messages.
import { spawn } from 'node:child_process';
import { Transform, type Readable, type Writable } from 'node:stream';

/** libpq environment for a postgres:// URL (https://www.postgresql.org/docs/15/libpq-envars.html). */
export function pgEnv(databaseUrl: string): Record<string, string> {
  const url = new URL(databaseUrl);
  const env: Record<string, string> = {
    PGHOST: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || '127.0.0.1',
    PGPORT: url.port || '5432',
    PGDATABASE: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
    PGAPPNAME: 'custos-backup',
  };
  if (url.username) env.PGUSER = decodeURIComponent(url.username);
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const host = url.searchParams.get('host');
  if (host) env.PGHOST = host; // unix-socket directories: postgres:///db?host=/var/run/postgresql
  return env;
}

export function databaseName(databaseUrl: string): string {
  return pgEnv(databaseUrl).PGDATABASE;
}

class ToolError extends Error {
  constructor(tool: string, code: number | null, stderr: string) {
    super(`${tool} failed (exit ${code ?? 'signal'}): ${stderr.trim().split('\n').slice(-5).join(' | ') || 'no output'}`);
    this.name = 'ToolError';
  }
}

// Only what the tools need: the backup passphrase, master keys and signing key must not be
// readable in /proc/<pid>/environ of pg_dump or whatever it starts. No inherited PG* either, so a
// stray PGPASSWORD or PGSERVICE in the operator's shell is not mixed in.
const INHERITED_ENV = /^(PATH|HOME|LANG|LC_[A-Z]+|TZ|TMPDIR)$/;
function childEnv(databaseUrl: string) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => INHERITED_ENV.test(k)));
  return { ...base, ...pgEnv(databaseUrl) };
}

export interface RunningTool {
  /** Resolves when the process exited with 0; rejects with the tail of its stderr otherwise. */
  done: Promise<void>;
  /** Passes data through and fails at the end unless the tool exited with 0, so a dump cut short is never published. */
  gate(): Transform;
}

function supervise(tool: string, child: ReturnType<typeof spawn>, onStderrLine?: (line: string) => void): RunningTool {
  const tail: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      onStderrLine?.(line);
      // pg_dump --verbose chatter is progress, not a reason for failure.
      if (!/^pg_dump: (reading|dumping|identifying|finding|flagging|saving|last built-in|executing|processing|creating|restoring)/.test(line)) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    }
  });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`${tool} could not be started: ${error.message} (is the PostgreSQL client installed and on PATH?)`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new ToolError(tool, code, [...tail, partial].join('\n')))));
  });
  done.catch(() => {}); // observed through gate() or by the caller; never an unhandled rejection
  return {
    done,
    gate: () => new Transform({
      transform(chunk, _encoding, callback) { callback(null, chunk); },
      flush(callback) { done.then(() => callback(), callback); },
    }),
  };
}

/** Starts `pg_dump --format=custom` on `databaseUrl`; the dump streams out of `stdout`. */
export function startPgDump(databaseUrl: string, args: string[], onStderrLine?: (line: string) => void): RunningTool & { stdout: Readable } {
  const child = spawn('pg_dump', ['--format=custom', ...args], { env: childEnv(databaseUrl), stdio: ['ignore', 'pipe', 'pipe'] });
  return { ...supervise('pg_dump', child, onStderrLine), stdout: child.stdout! };
}

/** Starts `pg_restore` into `databaseUrl`, reading the archive from `stdin`. */
export function startPgRestore(databaseUrl: string, args: string[]): RunningTool & { stdin: Writable } {
  const child = spawn('pg_restore', [`--dbname=${databaseName(databaseUrl)}`, ...args], { env: childEnv(databaseUrl), stdio: ['pipe', 'ignore', 'pipe'] });
  // pg_restore may stop reading early (on an error); its exit status tells why, not the EPIPE.
  child.stdin!.on('error', () => {});
  return { ...supervise('pg_restore', child), stdin: child.stdin! };
}
