// The README's recipes (and docs/guide.md's), executed: every ```bash block marked `<!-- recipe: name -->` runs, in
// order, with bash against a private Custos (the real `custos dev`: migrations, demo seed, API,
// workers and scheduler) on a free port, with its own database, Redis prefix, secrets and
// artifact directories. A recipe fails on its first failing command, or when it prints a stack
// trace. A README example that breaks is a red build.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { testContainer } from '../support/app.js';
import { freePort } from '../support/ports.js';
import { parseRecipes, recipeScript, STACK_FRAME, type RecipeBlock } from './recipes.js';
import { requireTool } from '../support/tools.js';

/**
 * The documents whose recipes run, in this order, and the recipes each must have: the README's
 * are the jobs people come for; removing a marker must not pass silently.
 */
const DOCUMENTS = [
  { file: 'README.md', expected: ['run', 'my-data', 'dpo', 'operator', 'relay', 'trust'] },
  { file: 'docs/guide.md', expected: ['accounts', 'staff', 'user-data'] },
];
const TOOLS = ['bash', 'curl', 'jq', 'openssl', 'oathtool', 'gpg', 'unzip', 'psql', 'pg_restore', 'sha256sum', 'base64'];
/** What the recipes say, replaced by the private server's address. */
const README_API = 'http://localhost:8080';
/** The default local PostgreSQL the recipes name, replaced by the one under test (CI may start a private one). */
const README_POSTGRES = 'postgres://postgres@127.0.0.1:5432';
const RECIPE_DATABASES = /^custos_(restored|breakglass)_\d+$/;

const repo = resolve('.');
const serviceDatabase = process.env.DATABASE_URL!;
const database = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_recipes`;
const postgresBase = (() => {
  const url = new URL(serviceDatabase);
  url.pathname = '';
  return url.toString().replace(/\/$/, '');
})();

/** A directory that looks like a fresh checkout: the repository's files, but its own .custos/ and var/. */
function checkoutLikeDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'custos-recipes-'));
  for (const entry of readdirSync(repo)) {
    if (['.git', '.custos', '.local', 'var', 'dist'].includes(entry)) continue;
    symlinkSync(join(repo, entry), join(dir, entry));
  }
  mkdirSync(join(dir, 'home'));
  return dir;
}

async function databaseNames(): Promise<string[]> {
  const admin = createDb(withDatabaseName(serviceDatabase, 'postgres'), 1);
  try {
    return (await admin.raw('SELECT datname FROM pg_database')).rows.map((r: { datname: string }) => r.datname);
  } finally {
    await admin.destroy();
  }
}

async function dropDatabases(names: string[]) {
  const admin = createDb(withDatabaseName(serviceDatabase, 'postgres'), 1);
  try {
    for (const name of names) await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.destroy();
  }
}

function describeFailure(file: string, recipe: string, blocks: RecipeBlock[], output: string, why: string): string {
  const reached = [...output.matchAll(/^@@recipe-block (\d+)$/gm)].map((m) => Number(m[1]));
  const block = blocks[(reached.at(-1) ?? 1) - 1];
  const command = /^@@recipe-failed-command: (.*)$/m.exec(output)?.[1];
  const tail = output.split('\n').slice(-40).join('\n');
  return [
    `${file} recipe "${recipe}", block ${block.index} of ${blocks.length} (${file} line ${block.line}): ${why}`,
    command ? `failing command: ${command}` : '',
    '--- the block ---', block.code,
    '--- output (last 40 lines) ---', tail,
  ].filter(Boolean).join('\n');
}

describe('docs: the README recipes run as written', function () {
  this.timeout(900_000);
  const parsed = DOCUMENTS.map((doc) => ({ ...doc, ...parseRecipes(readFileSync(doc.file, 'utf8')) }));
  let dir: string;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let env: Record<string, string>;
  let api: string;
  let databasesBefore: string[] = [];

  it('marks every executable block (```bash) with its recipe, and has the expected recipes', () => {
    for (const { file, unmarked, recipes, expected } of parsed) {
      expect(unmarked, `unmarked \`\`\`bash blocks at ${file} lines ${unmarked.join(', ')}: add <!-- recipe: name --> or use \`\`\`sh`).to.deep.equal([]);
      expect([...recipes.keys()], file).to.deep.equal(expected);
    }
  });

  it('links only to files that exist in the repository', () => {
    for (const file of ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
      const text = readFileSync(file, 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
        const path = resolve(dirname(file), target.split('#')[0]);
        expect(existsSync(path), `${file} links to ${target}, which does not exist`).to.equal(true);
        expect(path.startsWith(repo), `${file} links outside the repository: ${target}`).to.equal(true);
      }
    }
  });

  describe('against a private server', () => {
    before(async function () {
      requireTool(this, ...TOOLS); // CI installs them (.ci/run)
      databasesBefore = await databaseNames();
      await dropDatabases([database]);
      const admin = createDb(withDatabaseName(serviceDatabase, 'postgres'), 1);
      try {
        await admin.raw(`CREATE DATABASE "${database}"`);
      } finally {
        await admin.destroy();
      }
      dir = checkoutLikeDirectory();
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      // A reader's environment: no test secrets (development generates its own into .custos/).
      env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: join(dir, 'home'),
        LANG: 'C.UTF-8',
        ...(process.env.CI ? { CI: process.env.CI } : {}),
        NODE_ENV: 'development',
        DATABASE_URL: withDatabaseName(serviceDatabase, database),
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        CUSTOS_QUEUE_PREFIX: database,
        HOST: '127.0.0.1',
        PORT: String(port),
        CUSTOS_DELETION_GRACE_DAYS: '0',
        CUSTOS_LOG_LEVEL: 'warn',
      };
      server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'dev'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      server.stdout!.on('data', (d) => { serverOutput += d; });
      server.stderr!.on('data', (d) => { serverOutput += d; });
      const deadline = Date.now() + 180_000;
      while (!serverOutput.includes('Custos is running at')) {
        if (server.exitCode !== null || Date.now() > deadline) throw new Error(`custos dev did not start:\n${serverOutput}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    after(async () => {
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once('exit', r));
        server.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 20_000); })]);
        clearTimeout(timer); // a pending timer would count as a leak in the root hook
        if (server.exitCode === null) server.kill('SIGKILL');
      }
      if (databasesBefore.length) {
        const created = (await databaseNames()).filter((n) => RECIPE_DATABASES.test(n) && !databasesBefore.includes(n));
        await dropDatabases([database, ...created]);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      // The private server's queues and counters, under its own prefix in the shared Redis.
      const { redis } = testContainer().platform;
      const keys = await redis.keys(`${database}:*`).catch(() => [] as string[]);
      if (keys.length) await redis.del(...keys).catch(() => {});
    });

    for (const { file: doc, recipes, expected } of parsed) for (const name of expected) {
      it(`${doc}: recipe "${name}"`, async () => {
        const blocks = recipes.get(name);
        expect(blocks, `recipe ${name} in ${doc}`).to.not.equal(undefined);
        const file = join(dir, `.recipe-${name}.sh`);
        writeFileSync(file, recipeScript(blocks!, (code) => code.split(README_API).join(api).split(README_POSTGRES).join(postgresBase)));
        const run = spawn('bash', [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        run.stdout.on('data', (d) => { output += d; });
        run.stderr.on('data', (d) => { output += d; });
        const code = await new Promise<number | null>((resolveExit) => run.on('close', resolveExit));
        if (code !== 0 || !output.includes('@@recipe-done')) expect.fail(describeFailure(doc, name, blocks!, output, `exited with ${code}`));
        const trace = STACK_FRAME.exec(output);
        if (trace) expect.fail(describeFailure(doc, name, blocks!, output.slice(0, trace.index + trace[0].length), `printed a stack trace (${trace[0].trim()})`));
        expect(serverOutput, 'the server printed a stack trace').not.to.match(STACK_FRAME);
      });
    }
  });
});
