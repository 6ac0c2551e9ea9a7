// Graceful shutdown of the real `custos serve` process: SIGTERM while a login (bcrypt, cost 12)
// is in flight lets it finish with 200, refuses new connections, and exits 0 promptly.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { freePort } from '../support/ports.js';
import { createUser } from '../support/accounts.js';

function post(port: number, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('platform: graceful shutdown', function () {
  this.timeout(90_000);

  it('SIGTERM finishes the in-flight login, then exits 0', async () => {
    const user = await createUser('shutdown');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CUSTOS_LOG_LEVEL: 'info', CUSTOS_SHUTDOWN_GRACE_MS: '10000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!output.includes('API listening')) {
        if (Date.now() > deadline) throw new Error(`serve did not start:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }

      const inFlight = post(port, '/api/v1/auth/login', { email: user.email, password: user.password });
      await new Promise((r) => setTimeout(r, 30));
      const signalled = Date.now();
      child.kill('SIGTERM');
      const login = await inFlight;
      expect(login.status, login.body).to.equal(200);
      expect(JSON.parse(login.body).token).to.match(/^cst_/);

      const code = await exited;
      const took = Date.now() - signalled;
      // The login itself (bcrypt on a shared 2-core machine) and closing the pools take part of this.
      expect(code, output).to.equal(0);
      expect(took, 'exits promptly, well inside the grace period').to.be.lessThan(5_000);
      expect(output).to.match(/"msg":"shutting down"/);
      let refused = false;
      await post(port, '/healthz', {}).catch(() => { refused = true; });
      expect(refused, 'no longer accepting').to.equal(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
