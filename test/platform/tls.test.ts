// TLS termination: a self-signed certificate made by openssl, the configured minimum version
// enforced (a client limited to older versions cannot connect), and the plain-HTTP listener
// answering only 308 redirects to HTTPS.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { freePort } from '../support/ports.js';
import { requireTool } from '../support/tools.js';

/** Completes a handshake limited to [min, max]; resolves with the negotiated protocol or the error code. */
function handshake(port: number, min: tls.SecureVersion, max: tls.SecureVersion): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, minVersion: min, maxVersion: max, rejectUnauthorized: false, ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`refused:${error.code ?? error.message}`));
  });
}

describe('platform: TLS termination', function () {
  this.timeout(60_000);
  let dir: string;
  const running: Array<{ server: RunningServer; container: Container }> = [];

  before(function () {
    requireTool(this, 'openssl');
    dir = mkdtempSync(join(tmpdir(), 'custos-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  });
  after(async () => {
    for (const { server, container } of running) {
      await server.close();
      await container.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(minVersion: string, redirectPort = 0) {
    const config = loadConfig({
      ...process.env, HOST: '127.0.0.1', PORT: '0', CUSTOS_TLS_CERT_FILE: join(dir, 'cert.pem'), CUSTOS_TLS_KEY_FILE: join(dir, 'key.pem'),
      CUSTOS_TLS_MIN_VERSION: minVersion, CUSTOS_HTTP_REDIRECT_PORT: String(redirectPort),
    });
    const container = createContainer(config);
    const server = await startServer(container);
    running.push({ server, container });
    return { server, port: Number(new URL(server.url).port) };
  }

  it('with the default minimum (TLS 1.2): 1.1 refused, 1.2 and 1.3 accepted; the HTTP listener redirects with 308', async () => {
    const redirectPort = await freePort();
    const { server, port } = await start('TLSv1.2', redirectPort);
    expect(server.url).to.equal(`https://127.0.0.1:${port}`);
    expect(await handshake(port, 'TLSv1.1', 'TLSv1.1')).to.match(/^refused/);
    expect(await handshake(port, 'TLSv1.2', 'TLSv1.2')).to.equal('TLSv1.2');
    expect(await handshake(port, 'TLSv1.3', 'TLSv1.3')).to.equal('TLSv1.3');

    const health = await new Promise<{ status?: number; hsts?: string; body: string }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode, hsts: res.headers['strict-transport-security'] as string, body }));
      }).on('error', reject);
    });
    expect(health.status).to.equal(200);
    expect(JSON.parse(health.body)).to.deep.equal({ status: 'ok' });
    expect(health.hsts).to.match(/max-age=/);

    const redirect = await new Promise<{ status?: number; location?: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: redirectPort, path: '/api/v1/me?x=1', headers: { Host: 'custos.example:80' } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode, location: res.headers.location });
      }).on('error', reject);
    });
    expect(redirect.status).to.equal(308);
    expect(redirect.location).to.equal(`https://custos.example:${port}/api/v1/me?x=1`);
  });

  it('the refusal is the server\'s doing: the same TLS 1.1 client connects to a server that allows it', async function () {
    const control = tls.createServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')), minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    try {
      const result = await handshake((control.address() as { port: number }).port, 'TLSv1.1', 'TLSv1.1');
      if (result.startsWith('refused')) this.skip(); // this OpenSSL build cannot speak TLS 1.1 at all
      expect(result).to.equal('TLSv1.1');
    } finally {
      control.close();
    }
  });

  it('with CUSTOS_TLS_MIN_VERSION=TLSv1.3: 1.2 refused, 1.3 accepted', async () => {
    const { port } = await start('TLSv1.3');
    expect(await handshake(port, 'TLSv1.2', 'TLSv1.2')).to.match(/^refused/);
    expect(await handshake(port, 'TLSv1.3', 'TLSv1.3')).to.equal('TLSv1.3');
  });
});
