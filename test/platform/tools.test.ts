// A test that needs openssl, gpg, pg_restore or oathtool fails under CI when the tool is missing,
// instead of skipping itself (issue 16, item 6); and every test uses the one helper for it.
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { hasTool, optionalTool, requireTool } from '../support/tools.js';

const absent = 'custos-no-such-tool-here';

function withCi<T>(value: string | undefined, fn: () => T): T {
  const saved = process.env.CI;
  if (value === undefined) delete process.env.CI;
  else process.env.CI = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

function fakeContext() {
  const calls = { skipped: 0 };
  return { calls, context: { skip: () => { calls.skipped += 1; } } as unknown as Mocha.Context };
}

const testFiles = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? testFiles(path) : path.endsWith('.ts') ? [path] : [];
});

describe('platform: tests that need a command-line tool', () => {
  it('under CI=true a missing tool fails the test, naming it', () => {
    for (const ci of ['true', '1']) {
      const { calls, context } = fakeContext();
      expect(() => withCi(ci, () => requireTool(context, 'sh', absent))).to.throw(new RegExp(`CI=true but ${absent} is not installed`));
      expect(calls.skipped).to.equal(0);
      expect(() => withCi(ci, () => optionalTool(absent))).to.throw(/not installed/);
    }
  });

  it('outside CI a missing tool skips the test (or leaves the optional check out)', () => {
    for (const ci of [undefined, 'false', '0', '']) {
      const { calls, context } = fakeContext();
      withCi(ci, () => requireTool(context, absent));
      expect(calls.skipped, String(ci)).to.equal(1);
      expect(withCi(ci, () => optionalTool(absent))).to.equal(false);
    }
  });

  it('a present tool neither skips nor fails, in CI or not', () => {
    expect(hasTool('sh')).to.equal(true);
    for (const ci of ['true', undefined]) {
      const { calls, context } = fakeContext();
      withCi(ci, () => requireTool(context, 'sh'));
      expect(calls.skipped).to.equal(0);
      expect(withCi(ci, () => optionalTool('sh'))).to.equal(true);
    }
  });

  it('no test file checks for a tool on its own or skips without a reason on the same line', () => {
    const offenders: string[] = [];
    for (const file of testFiles('test')) {
      if (file.endsWith(join('support', 'tools.ts')) || file.endsWith(join('platform', 'tools.test.ts'))) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        const where = `${relative('.', file)}:${i + 1}: ${line.trim()}`;
        if (/command -v|hasBinary|has(Openssl|Oathtool|Gpg|PgRestore)\b|\['--version'\]/.test(line)) offenders.push(where);
        if (/\.skip\(/.test(line) && !/\/\/ .{10,}/.test(line)) offenders.push(where);
      });
    }
    expect(offenders, offenders.join('\n')).to.deep.equal([]);
  });
});
