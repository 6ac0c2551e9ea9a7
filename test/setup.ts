// Mocha root hooks: every run gets its own freshly created and migrated database (never the
// service's), its own Redis key prefix, and fixed test secrets. DATABASE_URL stays the privileged
// URL: test/setup migrates with it (as `custos migrate` does with the owner connection), and the
// application, in-process and through the CLI, connects as the runtime role derived from it (see
// config.ts), so a missing grant fails a test. Tests that tamper with the trail on purpose use
// test/support/db.ts's privilegedDb() explicitly.
import { loadConfig } from '../src/config.js';
import { generateSecrets } from '../src/platform/dev-secrets.js';
import { createDb, withDatabaseName } from '../src/platform/db.js';
import { migrateDatabase } from '../src/platform/db-roles.js';
import { closeTestApp } from './support/app.js';
import { tempDirHooks } from './support/temp.js';
import { countResources, describeSockets, waitForNoLeftovers } from './support/open-handles.js';
import { closePrivilegedDb } from './support/db.js';

// Before any test: what is open from the start (stdio, mocha's own) is not a leak.
const baseline = countResources();

const secrets = generateSecrets();
const serviceDatabase = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const testDatabase = process.env.CUSTOS_TEST_DATABASE ?? 'custos_test';

Object.assign(process.env, {
  NODE_ENV: 'test',
  DATABASE_URL: withDatabaseName(serviceDatabase, testDatabase),
  CUSTOS_QUEUE_PREFIX: process.env.CUSTOS_QUEUE_PREFIX ?? `custos_test_${testDatabase}`,
  CUSTOS_LOG_LEVEL: process.env.CUSTOS_LOG_LEVEL ?? 'silent',
  CUSTOS_ARTIFACT_DIR: process.env.CUSTOS_ARTIFACT_DIR ?? `.local/test-artifacts/${testDatabase}`,
  CUSTOS_LOGIN_MAX_FAILURES_PER_IP: '1000',
  // The suite registers hundreds of users from 127.0.0.1; registration.test.ts uses low limits.
  CUSTOS_REGISTER_MAX_PER_IP: '100000',
  // Short job leases, so a test that kills a worker sees its job taken over within seconds.
  CUSTOS_JOB_LEASE_MS: process.env.CUSTOS_JOB_LEASE_MS ?? '5000',
  ...Object.fromEntries(Object.entries(secrets).filter(([k]) => !process.env[k])),
});

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000);
    const admin = createDb(withDatabaseName(serviceDatabase, 'postgres'), 1);
    try {
      await admin.raw(`DROP DATABASE IF EXISTS "${testDatabase}" WITH (FORCE)`);
      await admin.raw(`CREATE DATABASE "${testDatabase}"`);
    } finally {
      await admin.destroy();
    }
    await migrateDatabase(loadConfig(process.env));
  },
  beforeEach: tempDirHooks.beforeEach,
  afterEach: tempDirHooks.afterEach,
  async afterAll(this: Mocha.Context) {
    tempDirHooks.afterAll();
    await closeTestApp();
    await closePrivilegedDb();
    // Mocha's timer for this very hook would count as a leftover timer; without it, the wait
    // below is still bounded (by the clock, not a timer), so the run can never stall here.
    this.runnable().clearTimeout();
    const left = await waitForNoLeftovers(baseline, 2_000);
    if (left.length) {
      const sockets = describeSockets();
      throw new Error(`the run left open: ${left.join(', ')}${sockets.length ? ` (${sockets.join('; ')})` : ''}. Close what the test opened in an after hook.`);
    }
  },
};
