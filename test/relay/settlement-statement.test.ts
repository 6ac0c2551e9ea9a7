// The settlement batch is a named prepared statement (parsed once per connection). A connection
// may lose the name (behind a transaction pooler, such as PgBouncer before 1.21, the next server
// connection never saw it) or already hold it under the same name: every call must still be
// settled. DEALLOCATE and PREPARE on the relay's only pooled connection do to it what a pooler
// does, against the real PostgreSQL.
import { expect } from 'chai';
import { createUser, type TestUser } from '../support/accounts.js';
import { capturedLogger } from '../support/captured-log.js';
import { createKey, startRelay, settled, type RelayHarness } from './support.js';

const ask = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'settle me' }] };

describe('relay: settlement through a connection that lost its prepared statement', function () {
  this.timeout(60_000);
  let h: RelayHarness;
  let log = capturedLogger();
  let statement = '';
  // One pooled connection, so the statements below reach the connection settlements use.
  beforeEach(async () => {
    log = capturedLogger();
    h = await startRelay({ DATABASE_POOL_MAX: '1', CUSTOS_LOG_LEVEL: 'warn' }, log.logger);
  });
  afterEach(async () => { await h.close(); });

  const db = () => h.relay.container.platform.db;
  const prepared = async () => (await db().raw(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'relay_settle_batch_%'`)).rows.map((r: { name: string }) => r.name);
  const settledRequests = async (user: TestUser) => {
    const usage = await h.relay.api().get('/api/v1/me/usage').set(user.auth);
    expect(usage.status, usage.text).to.equal(200);
    return usage.body.items.reduce((sum: number, u: { requests: number }) => sum + u.requests, 0);
  };
  const call = async (auth: Record<string, string>) => {
    expect((await h.relay.api().post('/v1/chat/completions').set(auth).send(ask)).status).to.equal(200);
    await settled(h);
  };

  it('is prepared once on the connection; when the name is gone, the call is settled and the batch is sent unnamed from then on', async () => {
    const user = await createUser('relay-prepared-gone');
    const key = await createKey(h, user);
    await call(key.auth);
    [statement] = await prepared();
    expect(statement, 'the batch runs as a named statement').to.match(/^relay_settle_batch_[0-9a-f]{12}$/);
    expect(log.text()).not.to.include('prepared statement');

    // node-postgres still believes the connection holds the name and sends only Bind (26000).
    await db().raw('DEALLOCATE ALL');
    await call(key.auth);
    expect(await settledRequests(user), 'the call after the name was lost').to.equal(2);
    expect(log.text()).to.include('refused a named prepared statement').and.to.include('26000');

    await call(key.auth);
    expect(await prepared(), 'not prepared again').to.deep.equal([]);
    expect(await settledRequests(user)).to.equal(3);
  });

  it('settles the call when the connection already holds another statement under the name', async () => {
    expect(statement, 'named by the test above').to.not.equal('');
    const user = await createUser('relay-prepared-taken');
    const key = await createKey(h, user);
    // What a pooled server connection prepared for another client (or another release): 42P05.
    await db().raw(`PREPARE ${statement} AS SELECT 1`);
    await call(key.auth);
    expect(await settledRequests(user)).to.equal(1);
    expect(log.text()).to.include('42P05');
  });
});
