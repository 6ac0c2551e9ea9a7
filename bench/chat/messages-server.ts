// Benchmark target (a child process of messages.ts): the real app on a fresh database, one user
// with one chat of 100 messages, plus ONE bench-only route that runs the same query through the
// same stack (session auth, OpenAPI validator, JSON) but returns the ciphertext instead of
// decrypting it. That route is the no-decryption baseline; it exists only in this process.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appServerOptions, createApp } from '../../src/app.js';
import { createContainer } from '../../src/container.js';
import { requireUser } from '../../src/platform/http/auth.js';
import { createChatRepo } from '../../src/modules/chat/chat-repo.js';
import { dropBenchDatabase, freshBenchConfig } from '../support/bench-database.js';

const database = process.env.CUSTOS_BENCH_DATABASE ?? 'custos_bench_chat';
const config = await freshBenchConfig(database, { CUSTOS_BCRYPT_COST: '12' });
const container = createContainer(config);
const { db, fieldCipher } = container.platform;

const email = 'bench@custos.test';
const password = 'Tangerine-Harbour-Quill-42';
const user = await container.accounts.register(email, password);
const chat = await container.chat.createChat(user.id, 'Benchmark chat');
// Realistic sizes: alternating short questions and ~600-character replies.
for (let i = 0; i < 100; i += 1) {
  const content = i % 2 === 0
    ? `Question ${i}: how do I rotate the master key without downtime?`
    : `Answer ${i}: ${'Add the new key version to CUSTOS_MASTER_KEYS, run custos keys rotate, then retire the old one. '.repeat(6)}`;
  await container.chat.appendMessage(user.id, chat.id, { role: i % 2 ? 'assistant' : 'user', content, model: i % 2 ? 'gpt-4o-mini' : null });
}

// The baseline operation: a copy of listMessages under another path and operationId.
const document = container.document;
const original = document.paths['/api/v1/chats/{chatId}/messages'];
document.paths['/api/v1/bench/chats/{chatId}/messages-plain'] = {
  parameters: original.parameters,
  get: { ...original.get, operationId: 'benchListMessagesPlain', tags: ['bench'] },
} as never;
const repo = createChatRepo(db, fieldCipher, db);
container.modules.push({
  name: 'bench',
  routes: {
    benchListMessagesPlain: async (req, res) => {
      const userId = requireUser(req).userId;
      const limit = Number(req.query.limit ?? 50);
      const rows = await repo.messageRows(userId, String(req.params.chatId), { limit });
      res.json({
        items: rows.slice(0, limit).map((r) => ({
          id: r.id, chatId: r.chat_id, role: r.role, content: r.content_enc.toString('base64'), model: r.model,
          promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens, createdAt: r.created_at.toISOString(),
        })),
        nextCursor: null,
      });
    },
  },
});

const app = createApp(container);
const server = http.createServer(appServerOptions(app), app);
server.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const login = await container.accounts.loginUser({ email, password, ip: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, token: login.token, chatId: chat.id })}\n`);

process.on('SIGTERM', async () => {
  server.close();
  await container.close();
  await dropBenchDatabase(database).catch(() => {});
  process.exit(0);
});
