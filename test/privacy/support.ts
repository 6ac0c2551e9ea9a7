// Helpers for the privacy tests: in-process or child-process workers, polling, decryption with
// openpgp, and reading a ZIP with the standard `unzip` tool.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { expect } from 'chai';
import { startWorkers, type RunningRole } from '../../src/roles.js';
import { api, testContainer } from '../support/app.js';
import type { TestUser } from '../support/accounts.js';
import { tempDir as makeTempDir } from '../support/temp.js';

/** A temporary directory removed after the test (gpg homes, unzipped archives). */
export const tempDir = () => makeTempDir('privacy');

export function startInProcessWorkers(): RunningRole {
  return startWorkers(testContainer());
}

/** `custos worker` as a separate process with the test environment, so it can be SIGKILLed. */
export function startChildWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], { env: { ...process.env, CUSTOS_LOG_LEVEL: process.env.PRIVACY_TEST_DEBUG ? 'info' : 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => { if (process.env.PRIVACY_TEST_DEBUG) process.stderr.write(c); });
  child.stderr?.on('data', (c: Buffer) => { if (process.env.PRIVACY_TEST_DEBUG) process.stderr.write(c); });
  return child;
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function waitForExport(user: TestUser, id: string, timeoutMs = 60_000) {
  return waitFor(async () => {
    const res = await api().get(`/api/v1/me/exports/${id}`).set(user.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.status).to.not.equal('failed');
    return res.body.status === 'completed' ? res.body : undefined;
  }, timeoutMs);
}

export async function download(user: TestUser, id: string, range?: string) {
  const req = api().get(`/api/v1/me/exports/${id}/download`).set(user.auth).buffer(true)
    .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });
  if (range) req.set('Range', range);
  return req;
}

export async function decryptWithPassphrase(encrypted: Buffer, passphrase: string): Promise<Buffer> {
  const message = await openpgp.readMessage({ binaryMessage: new Uint8Array(encrypted) });
  const { data } = await openpgp.decrypt({ message, passwords: [passphrase], format: 'binary' });
  return Buffer.from(data as Uint8Array);
}

/** Writes the ZIP to disk and reads it back with unzip: `-t` must pass; returns entry -> bytes. */
export function readZip(zip: Buffer): { test: string; entry: (name: string) => Buffer; names: string[] } {
  const dir = tempDir();
  const file = join(dir, 'export.zip');
  writeFileSync(file, zip);
  const test = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  expect(test.status, test.stdout + test.stderr).to.equal(0);
  const list = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  return {
    test: test.stdout,
    names: list.stdout.split('\n').filter(Boolean),
    entry: (name) => {
      const r = spawnSync('unzip', ['-p', file, name], { maxBuffer: 1 << 30 });
      expect(r.status, `unzip -p ${name}`).to.equal(0);
      return r.stdout;
    },
  };
}

export const chatLanded = () => testContainer().modules.some((m) => m.name === 'chat');

/** Seeds chat data through the chat API when that module exists; returns what to look for. */
export async function seedChatData(user: TestUser): Promise<{ message: string; fileText: string } | undefined> {
  if (!chatLanded()) return undefined;
  const message = `secret message ${Math.random()}`;
  const fileText = `file body ${Math.random()}`;
  const chat = await api().post('/api/v1/chats').set(user.auth).send({ title: 'Privacy test chat' });
  expect(chat.status, JSON.stringify(chat.body)).to.equal(201);
  const appended = await api().post(`/api/v1/chats/${chat.body.id}/messages`).set(user.auth).send({ role: 'user', content: message });
  expect(appended.status, JSON.stringify(appended.body)).to.equal(201);
  const uploaded = await api().post('/api/v1/files').set(user.auth).attach('file', Buffer.from(fileText), 'notes.txt');
  expect(uploaded.status, JSON.stringify(uploaded.body)).to.equal(201);
  return { message, fileText };
}
