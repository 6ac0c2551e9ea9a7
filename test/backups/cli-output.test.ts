// What an operator's terminal and scripts see from `custos backup …`: stdout carries only the
// summary (log lines go to stderr), and restoring into a database that does not exist either
// creates it or says exactly what to run, never a stack trace.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { privilegedDb } from '../support/db.js';
import { custos } from './support.js';

const stackTrace = /\n\s+at .+\(?[^\s()]+:\d+:\d+\)?/;
const logLine = /^\{.*"level":/m;
const idFrom = (stdout: string) => /backup ([0-9a-f-]{36})/.exec(stdout)![1];

describe('custos backup (terminal output)', function () {
  this.timeout(120_000);
  const verbose = { CUSTOS_LOG_LEVEL: 'info' };
  let dataId: string;

  before(async () => {
    const run = await custos(['backup', 'run'], verbose);
    expect(run.code, run.stderr).to.equal(0);
    dataId = idFrom(run.stdout);
  });

  it('keeps JSON log lines out of the summary on stdout (they go to stderr)', async () => {
    const run = await custos(['backup', 'run'], verbose);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).not.to.match(logLine);
    expect(run.stderr).to.match(/"msg":"backup succeeded"/);
    const verified = await custos(['backup', 'verify', dataId], verbose);
    expect(verified.code, verified.stderr).to.equal(0);
    expect(verified.stdout).to.match(/verify PASSED/);
    expect(verified.stdout).not.to.match(logLine);
    expect(verified.stderr).to.match(/"msg":"backup verified"/);
  });

  it('creates the --into database when it does not exist and the connection may', async () => {
    const name = `${process.env.CUSTOS_TEST_DATABASE ?? 'custos_test'}_new_${randomBytes(3).toString('hex')}`;
    const into = withDatabaseName(process.env.DATABASE_URL!, name);
    const admin = privilegedDb(); // creating roles and dropping databases needs the owner's rights
    try {
      const restored = await custos(['backup', 'restore', dataId, '--into', into], verbose);
      expect(restored.code, restored.stderr).to.equal(0);
      expect(restored.stdout).to.include(`created database ${name}`);
      expect(restored.stdout).to.match(/restored backup/);
      expect(restored.stdout + restored.stderr).not.to.match(stackTrace);
      const target = createDb(into, 1);
      try {
        expect(await target.schema.hasTable('users')).to.equal(true);
      } finally {
        await target.destroy();
      }
    } finally {
      await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  });

  it('prints the command to run when the connection may not create the database', async () => {
    // Roles are cluster-wide: a random name keeps concurrent runs on other databases apart.
    const role = `custos_nocreate_${randomBytes(4).toString('hex')}`;
    const admin = privilegedDb(); // creating roles and dropping databases needs the owner's rights
    await admin.raw(`CREATE ROLE "${role}" LOGIN NOCREATEDB`);
    try {
      const url = new URL(withDatabaseName(process.env.DATABASE_URL!, `${role}_missing`));
      url.username = role;
      url.password = '';
      const restored = await custos(['backup', 'restore', dataId, '--into', url.toString()], verbose);
      expect(restored.code).to.equal(1);
      expect(restored.stderr).to.include(`database ${role}_missing does not exist`);
      expect(restored.stderr).to.include(`CREATE DATABASE "${role}_missing"`);
      expect(restored.stdout + restored.stderr).not.to.match(stackTrace);
    } finally {
      await admin.raw(`DROP ROLE IF EXISTS "${role}"`);
    }
  });
});
