// The access log never holds a credential that travels in a path: the one-time deletion-receipt
// token (GET /api/v1/deletion-receipts/{token}, flagged by OWASP's no-credentials-in-url rule) is
// logged as the route's template, while ordinary paths keep their ids for debugging.
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import supertest from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { redactedPaths } from '../../src/platform/logger.js';

describe('platform: access log', function () {
  this.timeout(30_000);

  it('logs a receipt request by its template, never the token; other paths as they are', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const logger = pino({ level: 'info', redact: { paths: redactedPaths, censor: '[redacted]' } }, sink);
    const container = createContainer(loadConfig({ ...process.env, CUSTOS_LOG_LEVEL: 'info' }), logger);
    try {
      const app = supertest(createApp(container));
      const token = `cdr_${randomBytes(32).toString('base64url')}`;
      expect((await app.get(`/api/v1/deletion-receipts/${token}`)).status).to.equal(404);
      const tooLong = `cdr_${'x'.repeat(200)}`;
      expect((await app.get(`/api/v1/deletion-receipts/${tooLong}`)).status).to.equal(400);
      const chatId = randomUUID();
      expect((await app.get(`/api/v1/chats/${chatId}`)).status).to.equal(401);
      const log = lines.join('');
      expect(log).to.include('/api/v1/deletion-receipts/{token}');
      expect(log).not.to.include(token);
      expect(log).not.to.include(tooLong);
      expect(log, 'ordinary paths keep their ids').to.include(`/api/v1/chats/${chatId}`);
    } finally {
      await container.close();
    }
  });
});
