// bcrypt cost, read back from the stored hash (issue 16, item 6): the security page promises
// "bcrypt with 12 rounds", and a hash made with cost 4 passed every other accounts test. The cost
// is the two digits after the version in the Modular Crypt Format: $2b$12$<22 salt><31 hash>.
import { expect } from 'chai';
import bcrypt from 'bcrypt';
import { isolatedApp, testContainer } from '../support/app.js';
import { createStaff, createUser, strongPassword, uniqueEmail } from '../support/accounts.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createPasswordHasher } from '../../src/modules/accounts/passwords.js';

const mcf = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

/** The cost of a stored bcrypt hash; fails when the value is not a bcrypt hash at all. */
function bcryptCost(hash: string): number {
  const match = mcf.exec(hash);
  expect(match, `not a bcrypt hash: ${hash.slice(0, 7)}…`).to.not.equal(null);
  return Number(match![1]);
}

const storedHash = async (db: ReturnType<typeof testContainer>['platform']['db'], table: 'users' | 'staff_members', id: string) =>
  ((await db(table).where({ id }).first('password_hash')) as { password_hash: string }).password_hash;

describe('accounts: bcrypt cost of stored password hashes', function () {
  this.timeout(60_000);

  it('a user registered over HTTP is stored with cost 12 (the configured default), and the hash verifies', async () => {
    expect(testContainer().platform.config.bcryptCost).to.equal(12);
    const user = await createUser('bcrypt');
    const hash = await storedHash(testContainer().platform.db, 'users', user.id);
    expect(bcryptCost(hash)).to.equal(12);
    expect(await bcrypt.compare(user.password, hash)).to.equal(true);
    expect(await bcrypt.compare(`${user.password}x`, hash)).to.equal(false);
  });

  it('a staff member is stored with cost 12', async () => {
    const staff = await createStaff('support');
    const hash = await storedHash(testContainer().platform.db, 'staff_members', staff.id);
    expect(bcryptCost(hash)).to.equal(12);
    expect(await bcrypt.compare(staff.password, hash)).to.equal(true);
  });

  describe('with CUSTOS_BCRYPT_COST=13', () => {
    let costly: ReturnType<typeof isolatedApp>;
    before(() => { costly = isolatedApp({ CUSTOS_BCRYPT_COST: '13' }); });
    after(async () => { await costly?.close(); });

    it('users and staff are hashed with the configured cost, and can log in', async () => {
      const email = uniqueEmail('bcrypt13');
      const password = strongPassword();
      const registered = await costly.api().post('/api/v1/auth/register').send({ email, password });
      expect(registered.status, JSON.stringify(registered.body)).to.equal(201);
      expect(bcryptCost(await storedHash(costly.container.platform.db, 'users', registered.body.id))).to.equal(13);
      expect((await costly.api().post('/api/v1/auth/login').send({ email, password })).status).to.equal(200);
      // Hashes made with another cost keep working: bcrypt reads the cost from the hash.
      const older = await createUser('bcrypt12');
      expect((await costly.api().post('/api/v1/auth/login').send({ email: older.email, password: older.password })).status).to.equal(200);

      const staff = await costly.container.accounts.createStaff(uniqueEmail('staff13'), 'dpo', strongPassword());
      expect(bcryptCost(await storedHash(costly.container.platform.db, 'staff_members', staff.id))).to.equal(13);
    });
  });

  it('a cost below 12 is refused by the configuration and by the hasher', () => {
    for (const cost of ['4', '11']) {
      expect(() => loadConfig({ ...process.env, CUSTOS_BCRYPT_COST: cost }), cost).to.throw(ConfigError, /CUSTOS_BCRYPT_COST/);
    }
    expect(() => createPasswordHasher(4)).to.throw(/below 12/);
  });
});
