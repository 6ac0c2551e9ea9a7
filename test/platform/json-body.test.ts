// Plain JSON bodies are read by the platform's own reader (json-body.ts), every other body by
// body-parser. The same bytes must get the same answer either way: each body below is sent once
// plain (Content-Length) and once chunked, which only body-parser reads.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer } from '../../src/container.js';
import { testApp } from '../support/app.js';

interface Answer { status: number; type: string; body: Record<string, unknown> }

function post(port: number, body: Buffer, headers: Record<string, string>, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: chunked ? headers : { ...headers, 'content-length': String(body.length) } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
    });
    req.on('error', reject);
    if (chunked) req.write(body.subarray(0, Math.ceil(body.length / 2)));
    req.end(chunked ? body.subarray(Math.ceil(body.length / 2)) : body);
  });
}

// What a client sees (an OpenAI-shaped error: /v1 reads its key after the body).
const seen = ({ status, type, body }: Answer) => ({ status, type, body });

describe('platform: JSON request bodies', () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer(testApp());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  // Without an API key: a body that parses gets the 401, one that does not the 400.
  const call = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Grüße aus Köln' }] });
  const cases: Array<[string, string | Buffer, number]> = [
    ['valid JSON', call, 401],
    ['valid JSON after a byte-order mark', `\uFEFF${call}`, 401],
    ['valid JSON with surrounding whitespace', `\n  ${call}\n`, 401],
    ['an empty body (read as {})', '', 401],
    ['truncated JSON', call.slice(0, 20), 400],
    ['a JSON string, not an object', '"Grüße"', 400],
    ['a JSON number', '42', 400],
    ['invalid UTF-8 inside a string', Buffer.concat([Buffer.from('{"model": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 401],
  ];
  for (const [what, body, status] of cases) {
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"']) {
      it(`${what}, ${contentType}: ${status}, as body-parser answers`, async () => {
        const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
        const plain = await post(port, bytes, { 'content-type': contentType }, false);
        const chunked = await post(port, bytes, { 'content-type': contentType }, true);
        expect(plain.status, JSON.stringify(plain.body)).to.equal(status);
        expect(seen(plain)).to.deep.equal(seen(chunked));
      });
    }
  }

  it('bodies it does not read itself still reach body-parser (gzip, other charsets and encodings, a body over the limit), and its refusals are 4xx, not 500', async () => {
    const gzipped = await post(port, gzipSync(call), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, false);
    expect(gzipped.status, JSON.stringify(gzipped.body)).to.equal(401);
    const gzippedJunk = await post(port, gzipSync('{"model": '), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, false);
    expect(gzippedJunk.status).to.equal(400);
    const latin1 = await post(port, Buffer.from(call), { 'content-type': 'application/json; charset=latin1' }, false);
    expect(latin1.status, JSON.stringify(latin1.body)).to.equal(415);
    expect((latin1.body.error as { message: string }).message).to.equal('The charset "latin1" is not supported for JSON; send UTF-8.');
    const compress = await post(port, Buffer.from(call), { 'content-type': 'application/json', 'content-encoding': 'compress' }, false);
    expect(compress.status, JSON.stringify(compress.body)).to.equal(415);
    const huge = await post(port, Buffer.from(JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Köln '.repeat(400_000) }] })), { 'content-type': 'application/json' }, false);
    expect(huge.status, JSON.stringify(huge.body)).to.equal(413);
  });

  it('a client that leaves mid-body is logged as an aborted request, not as a failure of the service', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const container = createContainer(loadConfig({ ...process.env, CUSTOS_LOG_LEVEL: 'info' }), pino({ level: 'info' }, sink));
    const own = http.createServer(createApp(container));
    try {
      await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
      const socket = connect((own.address() as AddressInfo).port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: custos.test\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"model": "openai/');
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      for (let i = 0; i < 50 && !lines.some((line) => line.includes('request aborted')); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const log = lines.join('');
      expect(log).to.include('request aborted');
      expect(log, log).not.to.match(/request failed|"level":50/);
    } finally {
      own.close();
      await container.close();
    }
  });
});
