// Helpers for the chat tests: HTTP calls as a user would make them.
import { expect } from 'chai';
import { api } from '../support/app.js';
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
