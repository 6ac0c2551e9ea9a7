// Shared bits of the audit tests: reason headers, a DPO's view of the trail, and the CLI.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { api } from '../support/app.js';
import type { TestStaff } from '../support/accounts.js';

export const reasonHeaders = (justification = 'TICKET-4711 user asked why login fails') => ({
  'X-Access-Reason': 'support_request',
  'X-Access-Justification': justification,
});

/** The trail as a DPO sees it through the API, filtered. */
export async function trail(dpo: TestStaff, query: Record<string, string>) {
  const res = await api().get('/api/v1/audit/events').query({ limit: '100', ...query }).set(dpo.auth);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.items as Array<Record<string, any>>;
}

export function runCustos(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
