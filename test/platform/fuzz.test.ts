// Spec-driven fuzz (issue 12, item 6): EVERY parameter of EVERY operation of the merged OpenAPI
// document gets hostile values — dates no calendar has (a leap second, 30 February, year 0) and
// the names of Object.prototype's members — with the operation's own principal and valid values
// in every other parameter, so the hostile value is the only thing wrong. Nothing may answer 500:
// a value the spec refuses is a 400 problem; one it admits must be handled. Routes other engineers
// add are covered automatically, because the table is built from loadOpenApi().
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { api } from '../support/app.js';
import { createStaff, createUser, type TestStaff, type TestUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { listOperations, loadOpenApi, type BoundOperation } from '../../src/platform/http/openapi.js';
import type { StaffRole } from '../../src/platform/http/auth.js';

type Schema = Record<string, unknown>;
type Parameter = { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: Schema };

const document = loadOpenApi();
const defaultSecurity = document.security ?? [{ userSession: [] }];

export const impossibleDates = [
  '2026-12-31T23:59:60Z', // leap second: ajv-formats admits it, Date and PostgreSQL do not
  '2026-02-30T00:00:00Z',
  '2025-02-29T12:00:00Z',
  '2026-04-31T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00+01:00', // year 0 in UTC
  '2026-01-01T00:00:00+24:00',
];
export const prototypeNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];

function resolve<T>(value: T | { $ref: string }): T {
  const ref = (value as { $ref?: string }).$ref;
  if (!ref) return value as T;
  const target = ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document);
  return resolve(target as T);
}

const parametersOf = (op: BoundOperation): Parameter[] => [
  ...((document.paths[op.openapiPath] as { parameters?: unknown[] }).parameters ?? []),
  ...((op.operation.parameters as unknown[] | undefined) ?? []),
].map((p) => resolve(p as Parameter));

/** A value the schema admits, so that only the fuzzed parameter is wrong. */
function validValue(raw: Schema | undefined): unknown {
  const schema = resolve(raw ?? {});
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.examples)) return schema.examples[0];
  if (schema.example !== undefined) return schema.example;
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) if (Array.isArray(schema[key])) return validValue((schema[key] as Schema[])[0]);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'array':
      return [validValue(schema.items as Schema)];
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      return Object.fromEntries(((schema.required ?? []) as string[]).map((name) => [name, validValue(properties[name])]));
    }
    default:
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'email') return 'fuzz@example.test';
      return 'a'.repeat(Math.max(1, Number(schema.minLength ?? 8)));
  }
}

function jsonBodyOf(op: BoundOperation): unknown {
  const body = op.operation.requestBody ? resolve(op.operation.requestBody as { required?: boolean; content?: Record<string, { schema?: Schema }> }) : undefined;
  const json = body?.content?.['application/json'];
  return body?.required && json ? validValue(json.schema) : undefined;
}

describe('platform: spec fuzz with impossible dates and prototype names', function () {
  this.timeout(300_000);
  let user: TestUser;
  const staff = new Map<StaffRole, TestStaff>();

  async function authFor(op: BoundOperation): Promise<Record<string, string>> {
    const requirements = op.operation.security ?? defaultSecurity;
    if (requirements.length === 0 || requirements.some((r) => Object.keys(r).length === 0)) return {};
    if (requirements.some((r) => 'userSession' in r)) return user.auth;
    const role = (op.operation['x-custos-roles']?.[0] ?? 'admin') as StaffRole;
    if (!staff.has(role)) staff.set(role, await createStaff(role));
    return staff.get(role)!.auth;
  }

  function send(op: BoundOperation, parameters: Parameter[], fuzzed: Parameter, value: string, auth: Record<string, string>) {
    const valueOf = (p: Parameter) => (p === fuzzed ? value : String(validValue(p.schema)));
    const path = op.openapiPath.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const p = parameters.find((x) => x.in === 'path' && x.name === name);
      return encodeURIComponent(p ? valueOf(p) : randomUUID());
    });
    const query = Object.fromEntries(parameters.filter((p) => p.in === 'query' && (p === fuzzed || p.required)).map((p) => [p.name, valueOf(p)]));
    const headers = Object.fromEntries(parameters.filter((p) => p.in === 'header' && (p === fuzzed || p.required)).map((p) => [p.name, valueOf(p)]));
    const request = api()[op.method](path).query(query).set({ ...auth, ...headers });
    const body = jsonBodyOf(op);
    return body === undefined ? request : request.send(body as object);
  }

  before(async () => {
    user = await createUser('fuzz');
  });

  it('GET /docs/assets/<prototype name> is a 404 problem, not a lookup on Object.prototype', async () => {
    for (const name of prototypeNames) expectProblem(await api().get(`/docs/assets/${name}`), 404);
  });

  it('an impossible date in /audit/events?from= or /privacy/requests?before= is a 400 naming the field', async () => {
    const dpo = await createStaff('dpo');
    staff.set('dpo', dpo);
    for (const value of impossibleDates) {
      const events = expectProblem(await api().get('/api/v1/audit/events').query({ from: value }).set(dpo.auth), 400);
      expect(JSON.stringify(events.errors), value).to.include('query.from');
      const requests = expectProblem(await api().get('/api/v1/privacy/requests').query({ before: value }).set(dpo.auth), 400);
      expect(JSON.stringify(requests.errors), value).to.include('query.before');
    }
    // A real leap day and the last second of a minute still pass.
    expect((await api().get('/api/v1/audit/events').query({ from: '2024-02-29T23:59:59Z' }).set(dpo.auth)).status).to.equal(200);
    expect((await api().get('/api/v1/privacy/requests').query({ before: '2024-02-29T23:59:59.5+02:00' }).set(dpo.auth)).status).to.equal(200);
  });

  const fuzzable = listOperations(document).filter((op) => parametersOf(op).some((p) => p.in !== 'cookie'));

  it('the fuzz covers parameters of many operations', () => {
    expect(fuzzable.length).to.be.greaterThan(20);
  });

  for (const op of fuzzable) {
    it(`${op.method.toUpperCase()} ${op.openapiPath}: no 500 for any hostile value in any parameter`, async () => {
      const auth = await authFor(op);
      const parameters = parametersOf(op).filter((p) => p.in !== 'cookie');
      const failures: string[] = [];
      for (const parameter of parameters) {
        for (const value of [...impossibleDates, ...prototypeNames]) {
          const res = await send(op, parameters, parameter, value, auth);
          const where = `${parameter.in}:${parameter.name}=${value} -> ${res.status}`;
          if (res.status >= 500) failures.push(where);
          else if (res.status >= 400) expectProblem(res, res.status);
        }
      }
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  }
});
