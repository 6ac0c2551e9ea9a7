// The relay under test: an app of its own whose providers point at the local fake provider, and
// helpers to create keys the way a customer does (HTTP, with a session).
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Response } from 'supertest';
import { isolatedApp } from '../support/app.js';
import type { Logger } from '../../src/platform/logger.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';

export const LIVE_PROVIDER_KEY = 'sk-live-provider-credential';
export const TEST_PROVIDER_KEY = 'sk-test-provider-credential';

export interface RelayHarness {
  fake: FakeProvider;
  relay: ReturnType<typeof isolatedApp>;
  /** The relay over real HTTP on 127.0.0.1 (for the OpenAI SDK and raw streams): its /v1 base URL. */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startRelay(overrides: Record<string, string> = {}, logger?: Logger): Promise<RelayHarness> {
  const fake = await startFakeProvider();
  const relay = isolatedApp({
    CUSTOS_PROVIDER_OPENAI_BASE_URL: `${fake.baseUrl}/v1`,
    CUSTOS_PROVIDER_OPENAI_API_KEY: LIVE_PROVIDER_KEY,
    CUSTOS_PROVIDER_OPENAI_TEST_API_KEY: TEST_PROVIDER_KEY,
    CUSTOS_PROVIDER_XAI_BASE_URL: `${fake.baseUrl}/v1`,
    CUSTOS_PROVIDER_XAI_API_KEY: `${LIVE_PROVIDER_KEY}-xai`,
    CUSTOS_PROVIDER_ANTHROPIC_BASE_URL: `${fake.baseUrl}/anthropic/v1`,
    CUSTOS_PROVIDER_ANTHROPIC_API_KEY: `${LIVE_PROVIDER_KEY}-anthropic`,
    CUSTOS_PROVIDER_GOOGLE_BASE_URL: `${fake.baseUrl}/google/v1beta`,
    CUSTOS_PROVIDER_GOOGLE_API_KEY: `${LIVE_PROVIDER_KEY}-google`,
    CUSTOS_RELAY_UPSTREAM_TIMEOUT_MS: '1500',
    CUSTOS_RELAY_KEEPALIVE_MS: '100',
    ...overrides,
  }, logger);
  const server = relay.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    fake,
    relay,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await relay.close();
      await fake.close();
    },
  };
}

export interface CreatedKey {
  id: string;
  key: string;
  prefix: string;
  auth: { Authorization: string };
}

export async function createKey(h: RelayHarness, user: TestUser, body: Record<string, unknown> = {}): Promise<CreatedKey> {
  const res: Response = await h.relay.api().post('/api/v1/me/api-keys').set(user.auth).send({ name: 'test key', environment: 'live', ...body });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return { id: res.body.id, key: res.body.key, prefix: res.body.prefix, auth: { Authorization: `Bearer ${res.body.key}` } };
}

export const newUser = createUser;

/** An OpenAI-shaped error with nothing from the inside. */
export function expectOpenAiError(res: Response, status: number, code?: string) {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/json/);
  expect(res.body).to.have.nested.property('error.message').that.is.a('string');
  expect(res.body).to.have.nested.property('error.type').that.is.a('string');
  expect(res.body.error).to.have.property('code');
  if (code) expect(res.body.error.code).to.equal(code);
  expect(res.text).not.to.match(/\bat .+:\d+:\d+|node_modules|urn:custos:problem/);
  return res.body.error as { message: string; type: string; code: string };
}

/** Waits until every call made so far is settled (the relay writes its records after answering). */
export const settled = (h: RelayHarness) => h.relay.container.relay.drain();
