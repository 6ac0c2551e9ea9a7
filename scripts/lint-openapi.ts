// `npm run lint:openapi`: lints the contract as Custos serves it (openapi.yaml with paths/ and
// components/ merged by loadOpenApi, exactly what /openapi.json returns) with Redocly's
// recommended rules (openapi/redocly.yaml) and Spectral with the OWASP API Security ruleset
// (openapi/spectral.yaml). Exits non-zero on any error of either, so `npm test` fails on it.
// Findings name a JSON pointer (#/paths/~1api~1v1~1me/get/...): the path or component name says
// which file under openapi/ to fix.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadOpenApi, openapiDir } from '../src/platform/http/openapi.js';

const root = resolve(openapiDir, '..');
const outDir = join(root, '.local', 'openapi-lint');
mkdirSync(outDir, { recursive: true });
const merged = join(outDir, 'openapi.yaml');
writeFileSync(merged, stringify(loadOpenApi(), { aliasDuplicateObjects: false, lineWidth: 0 }));

const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const run = (label: string, command: string, args: string[]) => {
  process.stdout.write(`\n== ${label} ==\n`);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, env: { ...process.env, NO_COLOR: process.env.NO_COLOR ?? '1', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
  if (result.error) throw result.error;
  return result.status === 0;
};

const redocly = run('redocly lint (recommended)', bin('redocly'), ['lint', merged, '--config', join(openapiDir, 'redocly.yaml'), '--format', 'stylish']);
const spectral = run('spectral lint (spectral:oas + OWASP API Security 2023)', bin('spectral'), ['lint', merged, '--ruleset', join(openapiDir, 'spectral.yaml'), '--fail-severity', 'error', '--format', 'stylish']);
if (!redocly || !spectral) {
  process.stderr.write(`\nOpenAPI lint failed (${[!redocly && 'redocly', !spectral && 'spectral'].filter(Boolean).join(', ')}); the merged document is ${merged}.\n`);
  process.exit(1);
}
process.stdout.write('\nOpenAPI lint: no errors.\n');
