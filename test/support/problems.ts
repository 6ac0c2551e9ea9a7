// Every error must be an RFC 9457 problem that matches the spec's Problem schema, with nothing
// from the inside (stack frames, SQL, driver messages) in it.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'chai';
import type { Response } from 'supertest';
import { loadOpenApi } from '../../src/platform/http/openapi.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validateProblem = ajv.compile(loadOpenApi().components.schemas.Problem as object);

const leaks = [/\bat .+:\d+:\d+/, /node_modules/, /\bselect\b.+\bfrom\b/i, /\binsert into\b/i, /ECONNREFUSED/, /\bstack\b/i, /knex/i, /\bpg\b/];

export function expectProblem(res: Response, status: number): Record<string, unknown> {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(validateProblem(body), JSON.stringify(validateProblem.errors)).to.equal(true);
  expect(body.status).to.equal(status);
  expect(body.requestId).to.equal(res.headers['x-request-id']);
  for (const leak of leaks) expect(res.text, `problem body leaks ${leak}`).not.to.match(leak);
  return body;
}

/** The `errors[].field` names of a validation problem. */
export const problemFields = (body: Record<string, unknown>) => ((body.errors ?? []) as Array<{ field: string }>).map((e) => e.field);
