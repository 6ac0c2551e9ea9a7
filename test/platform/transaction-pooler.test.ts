// Custos behind a real PgBouncer. In transaction mode each query runs in whichever server session
// is free, which breaks two things PostgreSQL itself guarantees:
//   - LISTEN: the notifications reach a server session no client is linked to, and PgBouncer
//     drops them, while every query keeps being answered. A replica that went on trusting its
//     caches would keep serving a session logged out on another replica. It must notice, say so,
//     and keep the caches off (src/platform/db-notifications.ts);
//   - named prepared statements: the relay's settlement batch, prepared in one server session, is
//     missing from the next (26000) or already there (42P05). Every call must still be settled
//     (src/platform/prepared-statement.ts).
// In session mode a client keeps its server session, and notifications work as on PostgreSQL.
import { expect } from 'chai';
import pg from 'pg';
import { createDbNotifications } from '../../src/platform/db-notifications.js';
import { api, isolatedApp } from '../support/app.js';
import { capturedLogger } from '../support/captured-log.js';
import { createUser } from '../support/accounts.js';
import { startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { requireTool } from '../support/tools.js';
import { waitFor } from '../privacy/support.js';
import { createKey, settled, startRelay } from '../relay/support.js';

describe('behind PgBouncer', function () {
  this.timeout(120_000);
  let transactionMode: PgBouncer;
  let sessionMode: PgBouncer;
  before(async function () {
    requireTool(this, 'pgbouncer');
    transactionMode = await startPgBouncer('transaction');
    sessionMode = await startPgBouncer('session');
  });
  after(async () => {
    await transactionMode?.close();
    await sessionMode?.close();
  });

  it('in transaction mode a replica notices that notifications are lost, says so, and never serves a session from its cache', async () => {
    const log = capturedLogger();
    const pooled = isolatedApp({ DATABASE_URL: transactionMode.url, CUSTOS_SESSION_CACHE_TTL_MS: '60000' }, log.logger);
    try {
      const user = await createUser('pooler-sessions');
      const token = user.auth.Authorization.replace('Bearer ', '');
      // Long enough for the session cache to come up where notifications work
      // (as in test/accounts/session-cache.test.ts).
      for (let i = 0; i < 20; i += 1) {
        expect((await pooled.api().get('/api/v1/me').set(user.auth)).status).to.equal(200);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(pooled.container.accounts.isSessionCached('user', token), 'nothing is cached').to.equal(false);

      expect((await api().post('/api/v1/auth/logout').set(user.auth)).status).to.equal(204);
      expect((await pooled.api().get('/api/v1/me').set(user.auth)).status, 'logged out on the other replica').to.equal(401);
      const errors = log.text().split('\n').filter((line) => line.includes('database notifications are off'));
      expect(errors, 'said once').to.have.length(1);
      expect(errors[0]).to.include('transaction pooler').and.to.include('session-pooled');
      expect(log.text(), 'no reconnect loop').not.to.include('reconnecting');
    } finally {
      await pooled.close();
    }
  });

  it('in session mode notifications arrive and the subscription stays up', async () => {
    const log = capturedLogger();
    const notifications = createDbNotifications({ databaseUrl: sessionMode.url, logger: log.logger });
    const received: string[] = [];
    let up = false;
    // Other clients of the same PgBouncer pool, the sender among them.
    const others = Array.from({ length: 2 }, () => new pg.Client({ connectionString: sessionMode.url }));
    try {
      notifications.listen('custos_pooler_probe', { message: (payload) => received.push(payload), state: (listening) => { up = listening; } });
      await waitFor(async () => up, 10_000, 20);
      await Promise.all(others.map((c) => c.connect()));
      const busy = others[1].query('SELECT pg_sleep(0.05)');
      await others[0].query("SELECT pg_notify('custos_pooler_probe', 'revoked')");
      await busy;
      await notifications.barrier();
      expect(received).to.deep.equal(['revoked']);
      for (let i = 0; i < 5; i += 1) await notifications.barrier();
      expect(up).to.equal(true);
      expect(log.text()).to.equal('');
    } finally {
      await Promise.all(others.map((c) => c.end().catch(() => {})));
      await notifications.close();
    }
  });

  it('in transaction mode every relayed call is settled, though the batch statement meets server sessions that lack its name', async () => {
    const log = capturedLogger();
    const h = await startRelay({ DATABASE_URL: transactionMode.url, DATABASE_POOL_MAX: '4' }, log.logger);
    try {
      const user = await createUser('pooler-relay');
      const key = await createKey(h, user);
      const ask = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'settle me behind a pooler' }] };
      let calls = 0;
      // Rounds of parallel calls until a batch has met a server session without the name.
      await waitFor(async () => {
        const answers = await Promise.all(Array.from({ length: 8 }, () => h.relay.api().post('/v1/chat/completions').set(key.auth).send(ask)));
        for (const answer of answers) expect(answer.status, answer.text).to.equal(200);
        calls += answers.length;
        await settled(h);
        return /refused a named prepared statement/.test(log.text());
      }, 30_000, 0);
      expect(log.text()).to.match(/"code":"(26000|42P05)"/);
      const usage = await h.relay.api().get('/api/v1/me/usage').set(user.auth);
      expect(usage.status, usage.text).to.equal(200);
      expect(usage.body.items.reduce((sum: number, u: { requests: number }) => sum + u.requests, 0), 'every call settled').to.equal(calls);
    } finally {
      await h.close();
    }
  });
});
