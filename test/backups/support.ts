// Helpers for the backups tests: the CLI as a child process with the test environment, the
// break-glass openssl line, and direct SQL for synthetic timestamps.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { testContainer } from '../support/app.js';
import { runCli, type CliResult } from '../support/cli.js';

// Backups go to their own directories, apart from the artifact storage (set before any container exists).
const database = process.env.CUSTOS_TEST_DATABASE ?? 'custos_test';
process.env.CUSTOS_BACKUP_DIR = resolve(`.local/test-backups/${database}/data`);
process.env.CUSTOS_KEYSTORE_BACKUP_DIR = resolve(`.local/test-backups/${database}/keystore`);

/** `custos …` in a child process, exactly as an operator runs it (no development secrets file). */
export function custos(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, { env: { CUSTOS_DEV_SECRETS_FILE: '/nonexistent/custos-dev-secrets.env', ...env } });
}

/** The README's break-glass line: `openssl enc -d … -pass env:VAR | pg_restore --list`. */
export function opensslRestoreList(file: string, passphrase: string) {
  return spawnSync('sh', ['-c', `openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -md sha256 -in "$BACKUP_FILE" -pass env:BACKUP_PASS | pg_restore --list`], {
    env: { ...process.env, BACKUP_FILE: file, BACKUP_PASS: passphrase },
    encoding: 'utf8',
  });
}

export const backupFile = (kind: 'data' | 'keystore', key: string) =>
  resolve(kind === 'data' ? process.env.CUSTOS_BACKUP_DIR! : process.env.CUSTOS_KEYSTORE_BACKUP_DIR!, key);

export const readBackup = (kind: 'data' | 'keystore', key: string) => readFileSync(backupFile(kind, key));

export const db = () => testContainer().platform.db;
