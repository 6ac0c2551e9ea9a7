// Temporary directories outside the repository (decrypted dumps, gpg homes, unzipped exports)
// that the run removes itself: one made during a test goes after that test, one made in a
// `before` hook or at load time goes at the end of the run (root hooks in test/setup.ts). A gpg
// home's agent is stopped first, or it outlives the run holding a deleted directory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const afterThisTest = new Set<string>();
const afterTheRun = new Set<string>();
let inTest = false;

/** A fresh directory `custos-<label>-XXXXXX` in the OS temp directory, removed for you. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `custos-${label}-`));
  (inTest ? afterThisTest : afterTheRun).add(dir);
  return dir;
}

function removeAll(dirs: Set<string>) {
  for (const dir of dirs) {
    if (existsSync(join(dir, 'pubring.kbx')) || existsSync(join(dir, 'private-keys-v1.d')) || existsSync(join(dir, 'S.gpg-agent'))) {
      spawnSync('gpgconf', ['--homedir', dir, '--kill', 'all'], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  dirs.clear();
}

export const tempDirHooks = {
  beforeEach() { inTest = true; },
  afterEach() { inTest = false; removeAll(afterThisTest); },
  afterAll() { removeAll(afterThisTest); removeAll(afterTheRun); },
};
