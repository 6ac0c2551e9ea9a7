// docs/configuration.md is generated from the settings table in src/config.ts, so it cannot
// drift: this fails when a variable is added, removed or reworded without regenerating it.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { runCli } from '../support/cli.js';

const REGENERATE = 'npm run -s custos -- config docs > docs/configuration.md';

describe('docs: configuration reference', function () {
  this.timeout(60_000);

  it('docs/configuration.md is exactly what `custos config docs` prints', async () => {
    const printed = await runCli(['config', 'docs']);
    expect(printed.code, printed.stderr).to.equal(0);
    const file = readFileSync('docs/configuration.md', 'utf8');
    if (file !== printed.stdout) {
      const fileLines = file.split('\n');
      const printedLines = printed.stdout.split('\n');
      const first = printedLines.findIndex((line, i) => line !== fileLines[i]);
      expect.fail(`docs/configuration.md differs from \`custos config docs\` at line ${first + 1}:\n  file:      ${fileLines[first] ?? '(end of file)'}\n  generated: ${printedLines[first] ?? '(end of output)'}\nRegenerate it: ${REGENERATE}`);
    }
  });

  it('lists every variable the configuration reads, each with a doc line', async () => {
    const source = readFileSync('src/config.ts', 'utf8');
    const file = readFileSync('docs/configuration.md', 'utf8');
    const read = [...source.matchAll(/read(?:Secret)?\(env, '([A-Z0-9_]+)'\)|secret\('([A-Z0-9_]+)'\)/g)].map((m) => m[1] ?? m[2]);
    expect(read.length).to.be.greaterThan(20);
    for (const name of new Set(read)) expect(file, name).to.match(new RegExp(`^\\| \`${name}\` \\| [^|]+ \\| \\S`, 'm'));
  });
});
