// Requests built from the merged OpenAPI document, for tests that go over EVERY operation (the
// spec fuzz, the forced-500 check): parameters resolved from $refs, and values each schema admits.
import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import type { Express } from 'express';
import { loadOpenApi, type BoundOperation } from '../../src/platform/http/openapi.js';

export type Schema = Record<string, unknown>;
export type Parameter = { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: Schema };

export const document = loadOpenApi();
export const defaultSecurity = document.security ?? [{ userSession: [] }];

export function resolve<T>(value: T | { $ref: string }): T {
  const ref = (value as { $ref?: string }).$ref;
  if (!ref) return value as T;
  const target = ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], document);
  return resolve(target as T);
}

export const parametersOf = (op: BoundOperation): Parameter[] => [
  ...((document.paths[op.openapiPath] as { parameters?: unknown[] }).parameters ?? []),
  ...((op.operation.parameters as unknown[] | undefined) ?? []),
].map((p) => resolve(p as Parameter));

/** A value the schema admits, so that only the fuzzed parameter is wrong. */
export function validValue(raw: Schema | undefined): unknown {
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
      // Long and random enough for the password policy, within the schema's length limits.
      return `Spec-Value-${randomUUID()}`.slice(0, Number(schema.maxLength ?? 64)).padEnd(Number(schema.minLength ?? 0), 'x');
  }
}

export function jsonBodyOf(op: BoundOperation): unknown {
  const body = op.operation.requestBody ? resolve(op.operation.requestBody as { required?: boolean; content?: Record<string, { schema?: Schema }> }) : undefined;
  const json = body?.content?.['application/json'];
  return body?.required && json ? validValue(json.schema) : undefined;
}

/**
 * A request for `op` against `app` with valid values everywhere, except `override` (one parameter
 * given a chosen value). Path parameters without a schema get a random UUID.
 */
export function specRequest(app: Express, op: BoundOperation, headers: Record<string, string>, override?: { parameter: Parameter; value: string }) {
  const parameters = parametersOf(op).filter((p) => p.in !== 'cookie');
  const valueOf = (p: Parameter) => (p === override?.parameter ? override.value : String(validValue(p.schema)));
  const chosen = (p: Parameter) => p === override?.parameter || p.required;
  const path = op.openapiPath.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = parameters.find((x) => x.in === 'path' && x.name === name);
    return encodeURIComponent(p ? valueOf(p) : randomUUID());
  });
  const query = Object.fromEntries(parameters.filter((p) => p.in === 'query' && chosen(p)).map((p) => [p.name, valueOf(p)]));
  const headerValues = Object.fromEntries(parameters.filter((p) => p.in === 'header' && chosen(p)).map((p) => [p.name, valueOf(p)]));
  const request = supertest(app)[op.method](path).query(query).set({ ...headers, ...headerValues });
  const body = jsonBodyOf(op);
  return body === undefined ? request : request.send(body as object);
}
