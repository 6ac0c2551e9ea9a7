// The export writes messages from their decrypted bytes (chat-message-json.ts), not through
// JSON.stringify: its messages.json must be byte for byte what JSON.stringify of the API's own
// message objects gives, for text that needs every kind of escape.
import { expect } from 'chai';
import { api } from '../support/app.js';
import { createUser } from '../support/accounts.js';
import type { RunningRole } from '../../src/roles.js';
import { decryptWithPassphrase, download, readZip, startInProcessWorkers, waitForExport } from './support.js';

const HOSTILE = [
  'plain ASCII, the common case',
  '"quoted" and \\backslashed\\ and \\"both\\"',
  'line\nbreaks\r\nand\ttabs\band\fform feeds',
  'control \u0000 \u0001 \u0007 \u000b \u001b \u001f bytes, and DEL \u007f',
  'café naïve Straße 数据 加密 Привет ありがとう 🙂 👍🏽 🚀 € — “curly” …',
  'separators \u2028 and \u2029 that JSON.stringify leaves alone, </script> too',
  'a lone surrogate \ud800 stored as U+FFFD',
  `${'long message with "quotes" and \\ '.repeat(3000)}end`,
];

describe('privacy: exported messages are exactly the API\'s JSON', function () {
  this.timeout(90_000);
  let workers: RunningRole | undefined;
  after(async () => { await workers?.close(); });

  it('writes messages.json byte for byte as JSON.stringify of GET /chats/{id}/messages', async () => {
    const user = await createUser('export-json');
    const chat = await api().post('/api/v1/chats').set(user.auth).send({ title: 'Escapes' }).expect(201);
    for (const [i, content] of HOSTILE.entries()) {
      const reply = i % 2 ? { role: 'assistant', model: 'model "x" \\ 数据', promptTokens: i * 7, completionTokens: 0 } : { role: 'user' };
      await api().post(`/api/v1/chats/${chat.body.id}/messages`).set(user.auth).send({ ...reply, content }).expect(201);
    }
    const listed = await api().get(`/api/v1/chats/${chat.body.id}/messages?limit=100`).set(user.auth).expect(200);
    expect(listed.body.items).to.have.length(HOSTILE.length);

    const passphrase = 'json export passphrase 77';
    const created = await api().post('/api/v1/me/exports').set(user.auth).send({ passphrase, password: user.password }).expect(202);
    workers = startInProcessWorkers();
    await waitForExport(user, created.body.id);
    const zip = await decryptWithPassphrase((await download(user, created.body.id)).body as Buffer, passphrase);
    const written = readZip(zip).entry('data/chat/messages.json');

    const expected = `[\n${listed.body.items.map((m: unknown) => JSON.stringify(m)).join(',\n')}\n]\n`;
    expect(written.toString('utf8')).to.equal(expected);
    expect(written.equals(Buffer.from(expected, 'utf8'))).to.equal(true);
    expect(JSON.parse(written.toString('utf8'))[6].content).to.equal('a lone surrogate \ufffd stored as U+FFFD');
  });
});
