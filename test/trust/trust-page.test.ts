// The public trust page in a real headless Chromium (Debian's chromium + playwright-core): it
// renders the posture, sub-processors, documents and the reporting instructions with no
// script, no external request and no Content-Security-Policy violation. A screenshot is kept
// under .local/ (git-ignored). Under CI a missing Chromium fails the test instead of skipping it.
import { expect } from 'chai';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { api, testApp, testContainer } from '../support/app.js';
import { createStaff } from '../support/accounts.js';
import { requireTool } from '../support/tools.js';

const CHROMIUM = process.env.CUSTOS_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = '.local/trust-page.png';

describe('trust: public page in headless Chromium', function () {
  this.timeout(120_000);
  let server: Server;
  let browser: Browser;
  let origin: string;

  before(async function () {
    requireTool(this, 'chromium'); // Debian's package, at /usr/bin/chromium (.ci/run installs it)
    const admin = await createStaff('admin');
    await api().post('/api/v1/admin/trust/subprocessors').set(admin.auth)
      .send({ name: 'Page Test Hosting <b>Ltd</b>', purpose: 'Hosting', location: 'EU', dataCategories: ['all customer data (encrypted)'], effectiveAt: new Date(Date.now() - 86_400_000).toISOString() }).expect(201);
    await api().post('/api/v1/admin/trust/documents?title=Security%20overview&visibility=public').set(admin.auth).attach('file', Buffer.from('overview'), 'overview.txt').expect(201);
    testContainer().trust.invalidatePosture();
    server = testApp().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('renders every section from the live services, same-origin only, with no script and no CSP violation', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    const response = await page.goto(`${origin}/trust`, { waitUntil: 'load' });
    expect(response!.status()).to.equal(200);
    expect(response!.headers()['content-security-policy']).to.contain("default-src 'self'");
    expect(response!.headers()['cache-control']).to.match(/^public/);

    expect(await page.locator('h1').innerText()).to.equal('Trust centre');
    const posture = await page.locator('#posture').innerText();
    expect(posture).to.contain('passwords.bcrypt_cost').and.contain('bcrypt at cost').and.contain('relay.content_retained');
    expect(await page.locator('#subprocessors').innerText()).to.contain('Page Test Hosting <b>Ltd</b>');
    expect(await page.locator('#subprocessors b').count(), 'names are escaped, not markup').to.equal(0);
    expect(await page.locator('#documents a', { hasText: 'Download' }).count()).to.be.greaterThan(0);
    expect(await page.locator('#report').innerText()).to.contain('within 24 hours').and.contain('5 business days');
    // The stylesheet applied (same origin), nothing else was fetched, and no script exists.
    expect(await page.locator('th').first().evaluate((el) => getComputedStyle(el).fontWeight)).to.equal('600');
    expect(await page.locator('script').count()).to.equal(0);
    expect(requests.every((u) => u.startsWith(origin)), requests.join(' ')).to.equal(true);
    expect(requests.some((u) => u.endsWith('/trust/trust.css'))).to.equal(true);
    expect(problems, problems.join('\n')).to.deep.equal([]);

    mkdirSync('.local', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).to.equal(true);
    await page.close();
  });
});
