// A real S3 API server (s3rver, in a child process) on a free loopback port, for the S3 storage
// driver's tests and the processes of the topology test. Credentials S3RVER/S3RVER, path-style.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3 {
  endpoint: string;
  /** Environment that points Custos at this server (driver s3, the named buckets). */
  env(buckets: { artifacts: string; backups?: string; keystore?: string }): Record<string, string>;
  close(): Promise<void>;
}

export async function startS3(buckets: string[]): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'custos-s3rver-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--openssl-legacy-provider', join(import.meta.dirname, 's3rver-main.mjs'), String(port), directory, ...buckets], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (out.includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: (b) => ({
      CUSTOS_STORAGE_DRIVER: 's3',
      CUSTOS_S3_ENDPOINT: endpoint,
      CUSTOS_S3_REGION: 'us-east-1',
      CUSTOS_S3_FORCE_PATH_STYLE: 'true',
      CUSTOS_S3_BUCKET: b.artifacts,
      CUSTOS_BACKUP_S3_BUCKET: b.backups ?? '',
      CUSTOS_KEYSTORE_BACKUP_S3_BUCKET: b.keystore ?? '',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    }),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
