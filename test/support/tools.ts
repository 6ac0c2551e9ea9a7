// The command-line tools tests check Custos against (openssl, gpg, pg_restore, oathtool, unzip).
// On a laptop a missing tool skips the check and says so; under CI (`CI` set, as .ci/run does) it
// FAILS the test, so CI can never pass without having checked (issue 16, item 6).
import { spawnSync } from 'node:child_process';

const found = new Map<string, boolean>();

/** Whether `name` is on PATH (cached). */
export function hasTool(name: string): boolean {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`not a tool name: ${name}`);
  if (!found.has(name)) found.set(name, spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0);
  return found.get(name)!;
}

/** The tool's absolute path, for a test that wraps it (e.g. a slow pg_dump on PATH); call requireTool first. */
export function toolPath(name: string): string {
  if (!hasTool(name)) throw new Error(`${name} is not installed`);
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
}

export const inCi = (env: Record<string, string | undefined> = process.env) => Boolean(env.CI) && !['0', 'false', 'no'].includes(String(env.CI).toLowerCase());

class MissingToolError extends Error {
  constructor(missing: string[]) {
    super(`CI=true but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed: this check must run in CI (install it, see .ci/run)`);
    this.name = 'MissingToolError';
  }
}

/**
 * In a test or hook: continue when every tool is present; otherwise fail under CI, skip elsewhere.
 * `requireTool(this, 'openssl', 'pg_restore')` (use a `function () {}` so `this` is mocha's).
 */
export function requireTool(mocha: Mocha.Context, ...names: string[]): void {
  const missing = names.filter((name) => !hasTool(name));
  if (missing.length === 0) return;
  if (inCi()) throw new MissingToolError(missing);
  process.stderr.write(`      (skipped: ${missing.join(', ')} not installed)\n`);
  mocha.skip(); // reason: the tool is missing on a developer's machine (printed above; CI fails instead)
}

/**
 * For an extra check inside a test that passes on its own: true when every tool is present;
 * false (the check is left out) when one is missing, except under CI, where that throws.
 */
export function optionalTool(...names: string[]): boolean {
  const missing = names.filter((name) => !hasTool(name));
  if (missing.length && inCi()) throw new MissingToolError(missing);
  return missing.length === 0;
}
