// Helpers for the chat tests: HTTP calls as a user would make them.
import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { api, testContainer } from '../support/app.js';
import type { TestUser } from '../support/accounts.js';

export async function newChat(user: TestUser, title = 'A chat'): Promise<{ id: string; title: string }> {
  const res = await api().post('/api/v1/chats').set(user.auth).send({ title });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

export async function say(user: TestUser, chatId: string, content: string, role: 'user' | 'assistant' = 'user') {
  const res = await api().post(`/api/v1/chats/${chatId}/messages`).set(user.auth).send({ role, content });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

export async function upload(user: TestUser, name: string, bytes: Buffer) {
  return api().post('/api/v1/files').set(user.auth).attach('file', bytes, { filename: name, contentType: 'application/octet-stream' });
}

export async function uploadOk(user: TestUser, name: string, bytes: Buffer): Promise<{ id: string; name: string; kind: string }> {
  const res = await upload(user, name, bytes);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body;
}

/** Every regular file under the artifact directory, recursively. */
export function artifactFiles(): string[] {
  const root = testContainer().platform.config.artifactDir;
  const walk = (dir: string): string[] => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return []; }
    return names.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
  };
  return walk(root);
}

export async function fileRowCount(userId: string): Promise<number> {
  const [{ n }] = await testContainer().platform.db('files').where('user_id', userId).count({ n: '*' });
  return Number(n);
}
