import { expect } from 'chai';
import { api } from '../support/app.js';
import { createStaff, createUser } from '../support/accounts.js';

describe('smoke', () => {
  it('registers, logs in and reads /me', async () => {
    const user = await createUser();
    const me = await api().get('/api/v1/me').set(user.auth);
    expect(me.status).to.equal(200);
    expect(me.body.email).to.equal(user.email);
  });
  it('creates staff with TOTP', async () => {
    const staff = await createStaff('dpo');
    const me = await api().get('/api/v1/staff/me').set(staff.auth);
    expect(me.status, JSON.stringify(me.body)).to.equal(200);
    expect(me.body.totpConfirmed).to.equal(true);
  });
  it('404s unknown routes as problem+json', async () => {
    const res = await api().get('/nope');
    expect(res.status).to.equal(404);
    expect(res.headers['content-type']).to.match(/problem\+json/);
  });
});
