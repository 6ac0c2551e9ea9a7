// The deletion receipt link works as given (`curl "$receiptUrl"`): absolute, from PUBLIC_URL
// when set, else the address the server really listens on.
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { isolatedApp } from '../support/app.js';
import { strongPassword, uniqueEmail } from '../support/accounts.js';

async function requestDeletion(call: (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; body: any }>) {
  const email = uniqueEmail('receiptlink');
  const password = strongPassword();
  expect((await call('POST', '/api/v1/auth/register', { email, password })).status).to.equal(201);
  const { body: { token } } = await call('POST', '/api/v1/auth/login', { email, password });
  const requested = await call('POST', '/api/v1/me/deletion', { password }, token);
  expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
  return requested.body.receiptUrl as string;
}

describe('privacy: the deletion receipt link', function () {
  this.timeout(60_000);
  let running: { server: RunningServer; container: Container } | undefined;
  after(async () => {
    await running?.server.close();
    await running?.container.close();
  });

  it('is the listening address without PUBLIC_URL, and answers there', async () => {
    const container = createContainer(loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0', PUBLIC_URL: '' }));
    const server = await startServer(container);
    running = { server, container };
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const link = await requestDeletion(call);
    expect(link.startsWith(`${server.url}/api/v1/deletion-receipts/cdr_`), link).to.equal(true);
    const receipt = await fetch(link);
    expect(receipt.status).to.equal(200);
    expect((await receipt.json()).status).to.equal('scheduled');
  });

  it('starts with PUBLIC_URL when it is set (a trailing slash or a path prefix kept right)', async () => {
    const app = isolatedApp({ PUBLIC_URL: 'https://custos.example.org/trust/' });
    try {
      const call = async (method: string, path: string, body?: unknown, token?: string) => {
        const req = app.api()[method.toLowerCase() as 'post'](path);
        if (token) req.set('Authorization', `Bearer ${token}`);
        return req.send(body as object);
      };
      const link = await requestDeletion(call);
      expect(link).to.match(/^https:\/\/custos\.example\.org\/trust\/api\/v1\/deletion-receipts\/cdr_[A-Za-z0-9_-]+$/);
    } finally {
      await app.close();
    }
  });
});
