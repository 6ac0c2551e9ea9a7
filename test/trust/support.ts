// Shared helpers of the trust-centre tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasBinary = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

/** A test that needs a tool fails under CI when the tool is missing, and is skipped only elsewhere. */
export function requireTool(ctx: Mocha.Context, name: string): void {
  if (hasBinary(name)) return;
  if (process.env.CI) throw new Error(`${name} is required under CI (install it in .ci/run)`);
  ctx.skip();
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'custos-trust-'));
