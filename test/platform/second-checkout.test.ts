// Issue 16, item 7: a second clone on the same machine, with its own freshly generated development
// secrets, must not die on "ciphertext could not be authenticated". Two copies of this checkout
// run the real start command (`npm start`) against one PostgreSQL server: against one shared
// database the second says which keys do not match and the two ways out, and exits non-zero;
// with the default per-checkout database both start.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { checkoutDatabaseName, roleNameFor } from '../../src/platform/database-names.js';
import { testContainer } from '../support/app.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const COPIED = ['package.json', 'tsconfig.json', 'src', 'jobs', 'migrations', 'openapi', 'scripts', 'data'];

interface Run { code: number | null; started: boolean; stdout: string; stderr: string }

/** `npm start` in `root`; once it says it is running, stops it with SIGTERM (the whole process group). */
function npmStart(root: string, databaseUrl: string): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('CUSTOS_') && !['DATABASE_URL', 'NODE_ENV'].includes(key) && !key.startsWith('npm_')) env[key] = value;
  }
  Object.assign(env, { NODE_ENV: 'development', DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: '0', CUSTOS_LOG_LEVEL: 'warn' });
  return new Promise((done, fail) => {
    const child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { code: null, started: false, stdout: '', stderr: '' };
    const stop = () => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ } };
    const deadline = setTimeout(stop, 240_000);
    child.stdout.on('data', (d) => {
      run.stdout += d;
      if (!run.started && run.stdout.includes('Custos is running at')) {
        run.started = true;
        stop();
      }
    });
    child.stderr.on('data', (d) => { run.stderr += d; });
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(deadline);
      run.code = code;
      done(run);
    });
  });
}

describe('platform: a second checkout on the same machine (issue 16, item 7)', function () {
  this.timeout(600_000);
  const roots: string[] = [];
  const server = withDatabaseName(process.env.DATABASE_URL!, '');
  const shared = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_two_clones`;
  const databases = () => [shared, ...roots.map((root) => checkoutDatabaseName(root))];

  before(() => {
    for (const label of ['first', 'second']) {
      const root = realpathSync(mkdtempSync(join(tmpdir(), `custos-clone-${label}-`)));
      for (const entry of COPIED) if (existsSync(join(REPO, entry))) cpSync(join(REPO, entry), join(root, entry), { recursive: true });
      symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
      roots.push(root);
    }
  });

  after(async () => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
    const { redis } = testContainer().platform;
    const admin = createDb(withDatabaseName(process.env.DATABASE_URL!, 'postgres'), 1);
    try {
      for (const name of databases()) {
        const keys = await redis.keys(`${name}:*`);
        if (keys.length) await redis.del(...keys);
        await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.raw(`DROP ROLE IF EXISTS "${roleNameFor(name, 'runtime')}", "${roleNameFor(name, 'audit_owner')}"`);
      }
    } finally {
      await admin.destroy();
    }
  });

  it('against one shared database: the second clone names the database, the key versions and the two ways out, and exits non-zero', async () => {
    const [first, second] = roots;
    const one = await npmStart(first, withDatabaseName(server, shared));
    expect(one.started, one.stdout + one.stderr).to.equal(true);
    const two = await npmStart(second, withDatabaseName(server, shared));
    expect(two.started, 'the second clone must not start on the first one\'s data').to.equal(false);
    expect(two.code).to.not.equal(0);
    expect(two.stderr).to.contain(`custos: the master keys do not match database "${shared}"`);
    expect(two.stderr).to.contain('its data keys are wrapped with master key version 1; configured: version 1');
    expect(two.stderr).to.contain('version 1 does not unwrap them');
    expect(two.stderr).to.contain('restore the secrets it was created with: put the old .custos/dev-secrets.env back');
    expect(two.stderr).to.contain('use a new database: unset DATABASE_URL to use this checkout\'s own database');
    expect(two.stderr).not.to.contain('ciphertext could not be authenticated');
  });

  it('with the default per-checkout database, both clones start, each on its own database', async () => {
    for (const root of roots) {
      const run = await npmStart(root, server);
      expect(run.started, run.stdout + run.stderr).to.equal(true);
      // scripts/services.mjs derived the same name as config.ts does.
      expect(run.stderr).to.contain(`created database ${checkoutDatabaseName(root)}`);
    }
    expect(checkoutDatabaseName(roots[0])).to.not.equal(checkoutDatabaseName(roots[1]));
  });
});
