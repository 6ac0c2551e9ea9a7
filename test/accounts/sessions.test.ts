// Register, login, logout, /me, the password policy, and sessions: listing (decrypted user agent
// and IP), revoking one or the others, idle timeout and absolute expiry.
import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, strongPassword, uniqueEmail } from '../support/accounts.js';
import { expectProblem, problemFields } from '../support/problems.js';

const db = () => testContainer().platform.db;

describe('accounts: registration, login and sessions', () => {
  it('registers, logs in, reads /me and logs out; the token stops working after logout', async () => {
    const email = uniqueEmail();
    const password = strongPassword();
    const registered = await api().post('/api/v1/auth/register').send({ email: email.toUpperCase(), password });
    expect(registered.status).to.equal(201);
    expect(registered.body).to.include({ email, status: 'active' });
    expect(registered.body.twoFactor).to.deep.equal({ totp: false, recoveryCodesRemaining: 0 });

    const login = await api().post('/api/v1/auth/login').send({ email, password });
    expect(login.status).to.equal(200);
    expect(login.body.token).to.match(/^cst_/);
    expect(new Date(login.body.expiresAt).getTime()).to.be.greaterThan(Date.now());
    const auth = { Authorization: `Bearer ${login.body.token}` };

    const me = await api().get('/api/v1/me').set(auth);
    expect(me.status).to.equal(200);
    expect(me.body.id).to.equal(registered.body.id);

    expect((await api().post('/api/v1/auth/logout').set(auth)).status).to.equal(204);
    expectProblem(await api().get('/api/v1/me').set(auth), 401);
  });

  it('stores only the SHA-256 of the session token', async () => {
    const user = await createUser();
    const rows = await db()('sessions').where({ user_id: user.id });
    expect(rows).to.have.length(1);
    const { createHash } = await import('node:crypto');
    expect(Buffer.compare(rows[0].token_hash, createHash('sha256').update(user.token).digest())).to.equal(0);
    expect(JSON.stringify(rows[0])).not.to.include(user.token);
  });

  it('refuses a duplicate email with 409 and a wrong password with 401', async () => {
    const user = await createUser();
    expectProblem(await api().post('/api/v1/auth/register').send({ email: user.email, password: strongPassword() }), 409);
    expectProblem(await api().post('/api/v1/auth/login').send({ email: user.email, password: 'wrong-password-123' }), 401);
    expectProblem(await api().post('/api/v1/auth/login').send({ email: uniqueEmail('nobody'), password: 'wrong-password-123' }), 401);
  });

  describe('password policy', () => {
    it('refuses a password shorter than 12 characters, naming the field', async () => {
      const body = expectProblem(await api().post('/api/v1/auth/register').send({ email: uniqueEmail(), password: 'Short-pw-11' }), 400);
      expect(problemFields(body)).to.deep.equal(['body.password']);
      expect(JSON.stringify(body.errors)).to.include('12');
    });

    it('refuses passwords from data/common-passwords.txt, whatever their case', async () => {
      const { readFileSync } = await import('node:fs');
      const common = readFileSync('data/common-passwords.txt', 'utf8').split('\n').map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#') && l.length >= 12);
      expect(common.length, 'the list must hold passwords of 12+ characters to matter').to.be.greaterThan(0);
      for (const password of [common[0], common[common.length - 1].toUpperCase()]) {
        const body = expectProblem(await api().post('/api/v1/auth/register').send({ email: uniqueEmail(), password }), 400);
        expect(problemFields(body)).to.deep.equal(['body.password']);
        expect(String((body.errors as Array<{ message: string }>)[0].message)).to.match(/common/);
      }
    });

    it('lists every bad field at once', async () => {
      const body = expectProblem(await api().post('/api/v1/auth/register').send({ email: 'not-an-email', extra: 1 }), 400);
      const fields = problemFields(body);
      expect(fields).to.include('body.email');
      expect(fields.some((f) => f.includes('password'))).to.equal(true);
    });
  });

  describe('sessions', () => {
    it('lists sessions with the decrypted user agent and IP, newest first, marking the current one', async () => {
      const user = await createUser();
      const second = await api().post('/api/v1/auth/login').set('User-Agent', 'Firefox/128 test-agent')
        .set('X-Forwarded-For', '203.0.113.7').send({ email: user.email, password: user.password });
      expect(second.status).to.equal(200);
      const list = await api().get('/api/v1/me/sessions').set({ Authorization: `Bearer ${second.body.token}` });
      expect(list.status).to.equal(200);
      expect(list.body.items).to.have.length(2);
      const [newest, older] = list.body.items;
      expect(newest).to.include({ id: second.body.sessionId, userAgent: 'Firefox/128 test-agent', ip: '203.0.113.7', current: true, secondFactor: 'none' });
      expect(older.current).to.equal(false);
      // Stored encrypted: the plaintext is not in the row.
      const row = await db()('sessions').where({ id: second.body.sessionId }).first();
      expect(row.data_enc.toString('latin1')).not.to.include('test-agent');
    });

    it('revokes one session (404 for someone else\'s) and all the others', async () => {
      const user = await createUser();
      const other = await createUser('other');
      const logins = await Promise.all([1, 2].map(() => api().post('/api/v1/auth/login').send({ email: user.email, password: user.password })));
      const [a, b] = logins.map((l) => l.body);

      expectProblem(await api().delete(`/api/v1/me/sessions/${a.sessionId}`).set(other.auth), 404);
      expect((await api().get('/api/v1/me').set({ Authorization: `Bearer ${a.token}` })).status).to.equal(200);

      expect((await api().delete(`/api/v1/me/sessions/${a.sessionId}`).set(user.auth)).status).to.equal(204);
      expectProblem(await api().get('/api/v1/me').set({ Authorization: `Bearer ${a.token}` }), 401);
      expectProblem(await api().delete(`/api/v1/me/sessions/${a.sessionId}`).set(user.auth), 404);

      const revoked = await api().delete('/api/v1/me/sessions').set(user.auth);
      expect(revoked.status).to.equal(200);
      expect(revoked.body.revoked).to.equal(1);
      expectProblem(await api().get('/api/v1/me').set({ Authorization: `Bearer ${b.token}` }), 401);
      expect((await api().get('/api/v1/me').set(user.auth)).status).to.equal(200);
      const list = await api().get('/api/v1/me/sessions').set(user.auth);
      expect(list.body.items.map((s: { id: string }) => s.id)).to.have.length(1);
    });

    it('expires a session left idle longer than CUSTOS_SESSION_IDLE_MINUTES', async () => {
      const user = await createUser();
      const other = await api().post('/api/v1/auth/login').send({ email: user.email, password: user.password });
      const { idleMinutes } = testContainer().platform.config.session;
      await db()('sessions').where({ user_id: user.id }).update({ last_seen_at: db().raw(`now() - make_interval(mins => ?)`, [idleMinutes - 1]) });
      expect((await api().get('/api/v1/me').set(user.auth)).status, 'still inside the idle window').to.equal(200);
      await db()('sessions').where({ id: other.body.sessionId }).update({ last_seen_at: db().raw(`now() - make_interval(mins => ?)`, [idleMinutes + 1]) });
      expectProblem(await api().get('/api/v1/me').set({ Authorization: `Bearer ${other.body.token}` }), 401);
      const list = await api().get('/api/v1/me/sessions').set(user.auth);
      expect(list.body.items.map((s: { id: string }) => s.id), 'idle sessions are not listed as live').not.to.include(other.body.sessionId);
    });

    it('expires a session at expires_at even when in use', async () => {
      const user = await createUser();
      await db()('sessions').where({ user_id: user.id }).update({ expires_at: db().raw(`now() - interval '1 second'`) });
      expectProblem(await api().get('/api/v1/me').set(user.auth), 401);
    });
  });
});
