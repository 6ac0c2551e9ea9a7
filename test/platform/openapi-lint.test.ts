// The OpenAPI lint that `npm test` runs first (`npm run lint:openapi`, scripts/lint-openapi.ts)
// must catch what it promises: a route added without the limits, reasons and error responses the
// rules in openapi/spectral.yaml and openapi/redocly.yaml demand fails it. Here a probe route
// that breaks each rule is added to the real merged document and both linters are run on it.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadOpenApi, openapiDir } from '../../src/platform/http/openapi.js';
import { api, isolatedApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

const root = resolve(openapiDir, '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);

/** The (rule, path) pairs spectral.yaml switches off with an override, e.g. the capability URLs. */
function exemptions(): Array<{ rule: string; path: string }> {
  const ruleset = parse(readFileSync(join(openapiDir, 'spectral.yaml'), 'utf8')) as { overrides?: Array<{ files: string[]; rules: Record<string, unknown> }> };
  return (ruleset.overrides ?? []).flatMap((o) => o.files.flatMap((file) => {
    const pointer = file.split('#')[1] ?? '';
    const [, section, key] = pointer.split('/');
    if (section !== 'paths' || !key) return [];
    const path = decodeURIComponent(key).replace(/~1/g, '/').replace(/~0/g, '~');
    return Object.entries(o.rules).filter(([, severity]) => severity === 'off').map(([rule]) => ({ rule, path }));
  }));
}

function probeDocument() {
  const doc = loadOpenApi();
  doc.paths['/api/v1/lint-probe'] = {
    post: {
      operationId: 'lintProbeOpen',
      tags: ['system'],
      summary: 'Open write without a reason, unbounded inputs, no 400.',
      security: [],
      parameters: [{ name: 'q', in: 'query', schema: { type: 'string' } }],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string', maxLength: 36 } }, count: { type: 'integer', minimum: 0 } } } } },
      },
      responses: { '200': { description: 'ok' } },
    },
    get: {
      operationId: 'lintProbeSecured',
      tags: ['system'],
      summary: 'Needs a session but documents no 401.',
      responses: { '200': { description: 'ok' }, '400': { $ref: '#/components/responses/BadRequest' } },
    },
  };
  return doc;
}

describe('platform: OpenAPI lint rules (redocly + Spectral OWASP)', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'custos-openapi-lint-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('Spectral fails a route without request limits, a public reason, a 400 or a 401, naming each rule', () => {
    const file = join(dir, 'probe.yaml');
    writeFileSync(file, stringify(probeDocument(), { aliasDuplicateObjects: false, lineWidth: 0 }));
    const run = spawnSync(bin('spectral'), ['lint', file, '--ruleset', join(openapiDir, 'spectral.yaml'), '--fail-severity', 'error', '--format', 'json', '--quiet'], { encoding: 'utf8', cwd: root });
    expect(run.status, run.stderr).to.equal(1);
    const findings = JSON.parse(run.stdout) as Array<{ code: string; severity: number; path: string[] }>;
    const errorsAt = (code: string) => findings.filter((f) => f.code === code && f.severity === 0 && f.path.includes('/api/v1/lint-probe'));
    for (const code of ['custos-public-reason', 'custos-request-string-limit', 'custos-request-array-limit', 'custos-request-integer-limit', 'custos-secured-401', 'owasp:api8:2023-define-error-validation']) {
      expect(errorsAt(code), code).to.have.length.greaterThan(0);
    }
    // Nothing else in the document is an error: the probe is the only route that breaks the rules.
    // (The exemptions in spectral.yaml's overrides name the lint script's own output file, so they
    // do not reach this probe file; they are read from there and applied here, and only they are.)
    const exempted = (f: { code: string; path: string[] }) => exemptions().some((e) => e.rule === f.code && f.path[0] === 'paths' && f.path[1] === e.path);
    const others = findings.filter((f) => f.severity === 0 && !f.path.includes('/api/v1/lint-probe') && !exempted(f));
    expect(others.map((f) => `${f.code} ${f.path.join('.')}`)).to.deep.equal([]);
  });

  it('the exemptions read from spectral.yaml are the capability URLs, for the credentials-in-URL rule only', () => {
    expect(exemptions()).to.have.deep.members([
      '/api/v1/deletion-receipts/{token}',
      '/api/v1/trust/vulnerability-reports/status/{token}',
      '/api/v1/trust/access-requests/{token}',
      '/api/v1/trust/access-requests/{token}/nda',
      '/api/v1/trust/subscriptions/confirm/{token}',
    ].map((path) => ({ rule: 'owasp:api2:2023-no-credentials-in-url', path })));
    const paths = loadOpenApi().paths as Record<string, unknown>;
    for (const { path } of exemptions()) expect(paths, path).to.have.property(path);
  });

  it('Redocly fails a document without servers or with a description parsed as a key', () => {
    const doc = loadOpenApi();
    delete doc.servers;
    (doc.components.schemas.Problem as { properties: Record<string, unknown> }).properties.detail = { type: 'string', description: 'What went wrong', 'and how to fix it.': null };
    const file = join(dir, 'no-servers.yaml');
    writeFileSync(file, stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 }));
    const run = spawnSync(bin('redocly'), ['lint', file, '--config', join(openapiDir, 'redocly.yaml'), '--format', 'json'], { encoding: 'utf8', cwd: root, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
    expect(run.status).to.equal(1);
    const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { problems: Array<{ ruleId: string; severity: string }> };
    const errors = report.problems.filter((p) => p.severity === 'error').map((p) => p.ruleId);
    expect(errors).to.include('no-empty-servers');
    expect(errors).to.include('struct');
  });

  it('the document has a servers entry relative to where it was fetched', () => {
    expect((loadOpenApi().servers as Array<{ url: string }>).map((s) => s.url)).to.deep.equal(['/']);
  });

  it('GET /openapi.json names PUBLIC_URL as the server when it is set', async () => {
    expect((await api().get('/openapi.json')).body.servers).to.deep.equal(loadOpenApi().servers);
    const published = isolatedApp({ PUBLIC_URL: 'https://custos.example' });
    try {
      expect((await published.api().get('/openapi.json')).body.servers.map((s: { url: string }) => s.url)).to.deep.equal(['https://custos.example']);
    } finally {
      await published.close();
    }
  });

  it('every operation documents 400 because every operation can answer it: unknown query parameters are refused', async () => {
    expectProblem(await api().get('/healthz').query({ unknown: '1' }), 400);
    expectProblem(await api().get('/openapi.json').query({ unknown: '1' }), 400);
  });
});
