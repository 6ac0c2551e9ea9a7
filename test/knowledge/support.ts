// The knowledge base under test: its own app and container (providers pointing at the local fake
// provider, small chunks and batches so a few sentences make several jobs' worth of batches, a
// short retry delay), its own queue prefix, and real BullMQ workers of that container.
import { expect } from 'chai';
import type { Response } from 'supertest';
import { startRelay, type RelayHarness } from '../relay/support.js';
import { startWorkers, type RunningRole } from '../../src/roles.js';
import type { TestUser } from '../support/accounts.js';

export interface KnowledgeHarness extends RelayHarness {
  api: RelayHarness['relay']['api'];
  container: RelayHarness['relay']['container'];
  workers: RunningRole;
  prefix: string;
}

let instance = 0;

export async function startKnowledge(overrides: Record<string, string> = {}): Promise<KnowledgeHarness> {
  const prefix = `${process.env.CUSTOS_QUEUE_PREFIX}_knowledge${++instance}`;
  const h = await startRelay({
    CUSTOS_QUEUE_PREFIX: prefix,
    CUSTOS_KNOWLEDGE_CHUNK_CHARS: '200',
    CUSTOS_KNOWLEDGE_CHUNK_OVERLAP_CHARS: '40',
    CUSTOS_KNOWLEDGE_EMBEDDING_BATCH: '2',
    CUSTOS_KNOWLEDGE_RETRY_DELAY_MS: '50',
    ...overrides,
  });
  const close = h.close;
  const harness: KnowledgeHarness = {
    ...h,
    api: h.relay.api,
    container: h.relay.container,
    workers: startWorkers(h.relay.container),
    prefix,
    close: async () => {
      await harness.workers.close();
      const { redis } = h.relay.container.platform;
      const keys = await redis.keys(`${prefix}:*`).catch(() => [] as string[]);
      if (keys.length) await redis.del(...keys).catch(() => {});
      await close();
    },
  };
  return harness;
}

export async function uploadText(h: KnowledgeHarness, user: TestUser, name: string, text: string): Promise<string> {
  const res: Response = await h.api().post('/api/v1/files').set(user.auth).attach('file', Buffer.from(text), { filename: name, contentType: 'text/plain' });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id;
}

export async function newFolder(h: KnowledgeHarness, user: TestUser, name = 'Knowledge'): Promise<string> {
  const res = await h.api().post('/api/v1/smart-folders').set(user.auth).send({ name });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id;
}

export async function addFile(h: KnowledgeHarness, user: TestUser, folderId: string, fileId: string): Promise<void> {
  const res = await h.api().post(`/api/v1/smart-folders/${folderId}/members`).set(user.auth).send({ fileId });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
}

export async function status(h: KnowledgeHarness, user: TestUser, folderId: string) {
  const res = await h.api().get(`/api/v1/smart-folders/${folderId}/knowledge`).set(user.auth);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as { ready: boolean; files: Array<{ fileId: string; state: string; chunksDone: number; chunksTotal: number | null; attempts: number; lastError: string | null }> };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until every file of the folder is indexed (or one failed for good, which fails the wait). */
export async function waitReady(h: KnowledgeHarness, user: TestUser, folderId: string, timeoutMs = 30_000) {
  return waitFor(async () => {
    const s = await status(h, user, folderId);
    return s.ready && s.files.length > 0 ? s : undefined;
  }, timeoutMs);
}

export async function search(h: KnowledgeHarness, user: TestUser, folderId: string, query: string, limit?: number) {
  const res = await h.api().post(`/api/v1/smart-folders/${folderId}/search`).set(user.auth).send({ query, ...(limit ? { limit } : {}) });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.items as Array<{ fileId: string; chunkIndex: number; text: string; score: number }>;
}

/** A small corpus whose right answers are known: each query's words occur in exactly one file. */
export const CORPUS = {
  invoices: [
    'Invoices are payable within thirty days of the invoice date.',
    'A late payment fee of two percent applies to invoices paid after the due date.',
    'Send payment questions to the accounts receivable team, quoting the invoice number.',
    'Credit notes cancel an invoice in whole or in part.',
  ].join(' '),
  hiking: [
    'The mountain trail climbs through pine forest to the ridge.',
    'Wear sturdy boots: the path is rocky and slippery after rain.',
    'Check the weather forecast before the hike, storms build over the summit in the afternoon.',
    'Carry two litres of water and a map of the trail network.',
  ].join(' '),
  baking: [
    'Bread dough needs strong flour, water, salt and yeast.',
    'Knead the dough for ten minutes until it is smooth and elastic.',
    'Let the dough rise for an hour, then bake the loaf in a hot oven.',
    'Sourdough uses a starter instead of dried yeast.',
  ].join(' '),
};
