// The production topology on one machine: `custos serve`, `worker` and `scheduler` as real child
// processes (the CLI, as an operator starts them) on one PostgreSQL database, one Redis prefix and
// one S3 bucket of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import supertest from 'supertest';
import { freePort } from '../support/ports.js';

export interface Role {
  name: string;
  child: ChildProcess;
  port?: number;
  api: () => ReturnType<typeof supertest>;
  output: () => string;
}

export async function startRole(role: 'serve' | 'worker' | 'scheduler', name: string, env: Record<string, string>): Promise<Role> {
  const port = role === 'serve' ? await freePort() : undefined;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', role], {
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port ?? 0), CUSTOS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (c: Buffer) => { output += c; if (process.env.TOPOLOGY_DEBUG) process.stderr.write(`[${name}] ${c}`); };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return { name, child, port, api: () => supertest(`http://127.0.0.1:${port}`), output: () => output };
}

/** Resolves once the role says it is up: /readyz answers 200, or the log line of a worker or scheduler. */
export async function whenUp(role: Role, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (role.child.exitCode !== null) throw new Error(`${role.name} exited with ${role.child.exitCode}: ${role.output().slice(-2000)}`);
    if (role.port) {
      const ok = await fetch(`http://127.0.0.1:${role.port}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return;
    } else if (/"msg":"(workers|scheduler) started"/.test(role.output())) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`${role.name} did not come up: ${role.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function stopRole(role: Role | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = role?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
