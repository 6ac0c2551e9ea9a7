// Shared bits of the audit tests: reason headers, a DPO's view of the trail, and the CLI.
import { expect } from 'chai';
import { api } from '../support/app.js';
import type { TestStaff } from '../support/accounts.js';
import { runCli } from '../support/cli.js';

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

/** `custos …` as an operator runs it (see test/support/cli.ts). */
export const runCustos = (args: string[]) => runCli(args);
