// Encryption at rest of session data and TOTP secrets: plaintext never reaches PostgreSQL (every
// text/bytea/json column of every table, and pg_dump), and a ciphertext moved to another row or
// column fails closed instead of decrypting.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Secret } from 'otpauth';
import { api, testContainer } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { DecryptionError } from '../../src/platform/crypto/aead.js';

const db = () => testContainer().platform.db;

type Column = { table_schema: string; table_name: string; column_name: string; data_type: string };

/** Every place `needle` occurs in any text, bytea or json column of any table. */
async function findEverywhere(needle: Buffer): Promise<string[]> {
  const columns: Column[] = (await db().raw(`
    SELECT c.table_schema, c.table_name, c.column_name, c.data_type
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
       AND c.data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb', 'ARRAY')`)).rows;
  expect(columns.length).to.be.greaterThan(5);
  // Random key bytes can hold NUL, which no text column can contain (and PostgreSQL refuses as a
  // parameter): for those, the hex form is the only way they could sit in text.
  const text = needle.includes(0) ? needle.toString('hex') : needle.toString('utf8');
  const hex = needle.toString('hex');
  const hits: string[] = [];
  for (const c of columns) {
    const ref = `"${c.table_schema}"."${c.table_name}"`;
    const col = `"${c.column_name}"`;
    const sql = c.data_type === 'bytea'
      // the bytes themselves, and the utf8 bytes written as hex text inside a bytea
      ? `SELECT count(*)::int AS n FROM ${ref} WHERE position(?::bytea in ${col}) > 0 OR position(convert_to(?, 'UTF8') in ${col}) > 0`
      : `SELECT count(*)::int AS n FROM ${ref} WHERE ${col}::text ILIKE '%' || ? || '%' OR ${col}::text ILIKE '%' || ? || '%'`;
    const bindings = c.data_type === 'bytea' ? [needle, hex] : [text, hex];
    const [{ n }] = (await db().raw(sql, bindings)).rows;
    if (n > 0) hits.push(`${c.table_schema}.${c.table_name}.${c.column_name}`);
  }
  return hits;
}

function pgDump(): string {
  return execFileSync('pg_dump', ['--no-owner', '--dbname', process.env.DATABASE_URL!], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
}

describe('accounts: encryption at rest', function () {
  this.timeout(120_000);

  it('a canary in a user agent and a TOTP secret never appear in any column nor in pg_dump', async () => {
    const canary = `canary-${randomBytes(8).toString('hex')}`;
    const user = await createUser('canary');
    const login = await api().post('/api/v1/auth/login').set('User-Agent', `Mozilla/5.0 ${canary}`).send({ email: user.email, password: user.password });
    expect(login.status).to.equal(200);
    const listed = await api().get('/api/v1/me/sessions').set({ Authorization: `Bearer ${login.body.token}` });
    expect(listed.body.items[0].userAgent, 'readable through the API').to.include(canary);
    const enrol = await api().post('/api/v1/me/2fa/totp').set(user.auth);
    const secret = enrol.body.secret as string;
    const secretBytes = Buffer.from(Secret.fromBase32(secret).bytes);

    // The scanner finds what is stored in plaintext (the email), so a miss below means something.
    expect(await findEverywhere(Buffer.from(user.email))).to.include('public.users.email');
    for (const needle of [Buffer.from(canary), Buffer.from(secret), secretBytes]) {
      expect(await findEverywhere(needle), `found ${needle.toString('hex')}`).to.deep.equal([]);
    }

    const dump = pgDump();
    expect(dump, 'pg_dump works and holds the plaintext email').to.include(user.email);
    // pg_dump writes bytea as \x<hex>, so also look for the hex of each value.
    for (const needle of [canary, secret, secretBytes.toString('hex'), Buffer.from(canary).toString('hex'), Buffer.from(secret).toString('hex')]) {
      expect(dump.toLowerCase().includes(needle.toLowerCase()), `pg_dump contains ${needle}`).to.equal(false);
    }
    // Nor in Redis (login counters and queues only).
    const { redis, config } = testContainer().platform;
    for (const key of await redis.keys(`${config.queuePrefix}:*`)) {
      expect(key).not.to.include(canary);
      if ((await redis.type(key)) === 'string') expect(String(await redis.get(key))).not.to.include(canary);
    }
  });

  it('a session whose ciphertext was copied from another row fails closed (401), and listing skips it', async () => {
    const user = await createUser();
    const second = await api().post('/api/v1/auth/login').set('User-Agent', 'second-agent').send({ email: user.email, password: user.password });
    const victimAuth = { Authorization: `Bearer ${second.body.token}` };
    expect((await api().get('/api/v1/me').set(victimAuth)).status).to.equal(200);
    // Same owner, same data key: only the associated data (the row id) tells them apart.
    await db().raw(`UPDATE sessions SET data_enc = (SELECT data_enc FROM sessions WHERE id = ?) WHERE id = ?`, [
      (await db()('sessions').where({ user_id: user.id }).whereNot({ id: second.body.sessionId }).first()).id,
      second.body.sessionId,
    ]);
    expectProblem(await api().get('/api/v1/me').set(victimAuth), 401);
    const list = await api().get('/api/v1/me/sessions').set(user.auth);
    expect(list.status).to.equal(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).to.deep.equal([
      (await db()('sessions').where({ user_id: user.id }).whereNot({ id: second.body.sessionId }).first()).id,
    ]);
    expect(JSON.stringify(list.body)).not.to.include('second-agent');
  });

  it('the field cipher refuses a ciphertext read at another table, column or row, or altered', async () => {
    const { fieldCipher } = testContainer().platform;
    const subject = randomUUID();
    const at = { table: 'sessions', column: 'data_enc', rowId: randomUUID() };
    const sealed = await fieldCipher.encryptText(subject, at, 'secret value');
    expect(await fieldCipher.decryptText(at, sealed)).to.equal('secret value');
    for (const elsewhere of [{ ...at, column: 'other_enc' }, { ...at, table: 'users' }, { ...at, rowId: randomUUID() }]) {
      let caught: unknown;
      try { await fieldCipher.decryptText(elsewhere, sealed); } catch (error) { caught = error; }
      expect(caught, JSON.stringify(elsewhere)).to.be.instanceOf(DecryptionError);
    }
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 20] ^= 1;
    let caught: unknown;
    try { await fieldCipher.decryptText(at, flipped); } catch (error) { caught = error; }
    expect(caught).to.be.instanceOf(DecryptionError);
  });
});
