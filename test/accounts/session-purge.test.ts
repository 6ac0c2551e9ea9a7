// Dead sessions are purged on a schedule (issue 16, "Also"): revoked, past the absolute expiry or
// idle past the idle limit, each for longer than CUSTOS_SESSION_PURGE_AFTER_MINUTES (60), are
// deleted in batches; live ones and ones that ended a moment ago stay. The scheduler enqueues one
// job per 15-minute slot (deterministic id), and the worker runs the purge.
import { expect } from 'chai';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { sha256 } from '../../src/platform/crypto/hashing.js';
import { createQueueConnection } from '../../src/platform/redis.js';
import { createAccountsRepo } from '../../src/modules/accounts/accounts-repo.js';
import { createSessionPurge } from '../../src/modules/accounts/session-purge.js';
import { accountsJobs, sessionPurgeJobId } from '../../jobs/accounts.js';
import { api, testContainer } from '../support/app.js';
import { createStaff, createUser, type TestUser } from '../support/accounts.js';

const db = () => testContainer().platform.db;
const sessionIdOf = async (token: string) => ((await db()('sessions').where({ token_hash: sha256(token) }).first('id')) as { id: string }).id;
const exists = async (id: string) => Boolean(await db()('sessions').where({ id }).first('id'));
const minutesAgo = (m: number) => db().raw(`now() - make_interval(mins => ?)`, [m]);

async function newSession(user: TestUser): Promise<{ id: string; auth: { Authorization: string } }> {
  const login = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
  expect(login.status).to.equal(200);
  return { id: await sessionIdOf(login.body.token), auth: { Authorization: `Bearer ${login.body.token}` } };
}

describe('accounts: scheduled purge of dead sessions', function () {
  this.timeout(120_000);
  const { idleMinutes, purgeAfterMinutes } = { idleMinutes: 30, purgeAfterMinutes: 60 };

  it('uses the documented defaults', () => {
    expect(testContainer().platform.config.session).to.include({ idleMinutes, purgeAfterMinutes });
  });

  it('deletes sessions revoked, expired or idle for over an hour, keeps live and just-ended ones', async () => {
    const user = await createUser('purge');
    const live = await newSession(user);
    // One after another: parallel logins of one account would each take a credential attempt
    // before bcrypt runs, and more than the per-account limit at once are refused (429).
    const sessions = [];
    for (let i = 0; i < 6; i++) sessions.push(await newSession(user));
    const [revokedLong, revokedJust, expiredLong, expiredJust, idleLong, idleJust] = sessions;
    await db()('sessions').where({ id: revokedLong.id }).update({ revoked_at: minutesAgo(purgeAfterMinutes + 5) });
    await db()('sessions').where({ id: revokedJust.id }).update({ revoked_at: minutesAgo(purgeAfterMinutes - 5) });
    await db()('sessions').where({ id: expiredLong.id }).update({ expires_at: minutesAgo(purgeAfterMinutes + 5) });
    await db()('sessions').where({ id: expiredJust.id }).update({ expires_at: minutesAgo(purgeAfterMinutes - 5) });
    await db()('sessions').where({ id: idleLong.id }).update({ last_seen_at: minutesAgo(idleMinutes + purgeAfterMinutes + 5) });
    await db()('sessions').where({ id: idleJust.id }).update({ last_seen_at: minutesAgo(idleMinutes + purgeAfterMinutes - 5) });
    const staff = await createStaff('support');
    const staffSession = await sessionIdOf(staff.token);
    await db()('sessions').where({ id: staffSession }).update({ revoked_at: minutesAgo(purgeAfterMinutes + 5) });

    const result = await testContainer().accounts.purgeDeadSessions();
    expect(result.deleted).to.be.greaterThanOrEqual(4);

    for (const gone of [revokedLong, expiredLong, idleLong]) expect(await exists(gone.id), 'purged').to.equal(false);
    expect(await exists(staffSession), 'staff session purged').to.equal(false);
    for (const kept of [live, revokedJust, expiredJust, idleJust]) expect(await exists(kept.id), 'kept').to.equal(true);
    // The live session still works; the account is untouched.
    const me = await api().get('/api/v1/me').set(live.auth);
    expect(me.status).to.equal(200);
    expect(me.body.email).to.equal(user.email);
    expect((await testContainer().accounts.purgeDeadSessions()).deleted, 'a second run finds nothing').to.equal(0);
  });

  it('works in batches until none is left', async () => {
    const user = await createUser('purge-batches');
    const sessions = await Promise.all(Array.from({ length: 5 }, () => newSession(user)));
    await db()('sessions').whereIn('id', sessions.map((s) => s.id)).update({ revoked_at: minutesAgo(purgeAfterMinutes + 1) });
    const purge = createSessionPurge({ repo: createAccountsRepo(db()), session: { idleMinutes, purgeAfterMinutes }, batchSize: 2, pauseMs: 0 });
    expect(await purge.purgeDeadSessions()).to.deep.equal({ deleted: 5, batches: 3 });
    for (const s of sessions) expect(await exists(s.id)).to.equal(false);
  });

  describe('the scheduled job', () => {
    const connections: Redis[] = [];
    let workers: Worker[] = [];
    after(async () => {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.allSettled(connections.map((c) => c.quit()));
    });

    it('the scheduler enqueues one job per 15-minute slot (two schedulers: one job), and the worker purges', async () => {
      const user = await createUser('purge-job');
      const dead = await newSession(user);
      await db()('sessions').where({ id: dead.id }).update({ expires_at: minutesAgo(purgeAfterMinutes + 1) });

      const jobs = accountsJobs(testContainer());
      const [task] = jobs.schedules!;
      expect(task.cron).to.equal('*/15 * * * *');
      const jobId = sessionPurgeJobId();
      const queue = testContainer().platform.queues.queue('accounts-sessions-purge');
      await (await queue.getJob(jobId))?.remove();
      await Promise.all([task.run(), task.run()]);
      expect(sessionPurgeJobId(Date.now() + 15 * 60_000), 'the next slot has another id').not.to.equal(jobId);
      const waiting = await queue.getJobs(['waiting', 'delayed', 'active', 'completed']);
      expect(waiting.filter((j) => j.id === jobId)).to.have.length(1);

      workers = jobs.workers!(() => {
        const connection = createQueueConnection(testContainer().platform.config.redisUrl);
        connections.push(connection);
        return connection;
      });
      const deadline = Date.now() + 60_000;
      while ((await (await queue.getJob(jobId))?.getState()) !== 'completed') {
        if (Date.now() > deadline) throw new Error('the purge job did not complete');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await exists(dead.id)).to.equal(false);
      expect((await queue.getJob(jobId))!.returnvalue.deleted).to.be.greaterThanOrEqual(1);
    });
  });
});
