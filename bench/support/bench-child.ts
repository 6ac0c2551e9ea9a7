// What the relay's bench drivers share: starting a bench process (fake upstream, Custos bench
// server, forwarder) that prints one JSON line once it listens, and the percentile of a sample.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface BenchChild { child: ChildProcess; info: Record<string, unknown> }

/** Runs node with `args` and resolves with the JSON of its first stdout line; rejects if it exits first. */
export function startBenchChild(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<BenchChild> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...options.env } });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, info: JSON.parse(line) }));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

/** The p-th percentile (0–100) of `xs`, nearest rank; NaN for an empty sample. */
export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
