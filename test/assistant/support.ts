// Chats that talk to a model, as a client sees them: the relay harness (its own app whose
// providers point at the local fake provider), chats made over HTTP, credit bought through the
// service the credits CLI calls, and a server-sent-events reader that parses the stream the way
// a browser's EventSource does (fields per line, events at blank lines).
import { expect } from 'chai';
import type { TestUser } from '../support/accounts.js';
import type { RelayHarness } from '../relay/support.js';

export interface SseEvent {
  event: string;
  data: string;
}

/** The server of the harness over real HTTP (streams, aborts): its base URL without /v1. */
export const origin = (h: RelayHarness) => h.baseUrl.replace(/\/v1$/, '');

export async function buyCredit(h: RelayHarness, user: TestUser, cents = 10_000): Promise<void> {
  await h.relay.container.chat.recordTransaction(user.id, { kind: 'purchase', amountCents: cents, currency: h.relay.container.platform.config.relay.currency, description: 'test credit' });
}

/** A chat with one user message; returns its id. */
export async function chatWith(h: RelayHarness, user: TestUser, content: string): Promise<string> {
  const chat = await h.relay.api().post('/api/v1/chats').set(user.auth).send({ title: 'Ask the model' });
  expect(chat.status, JSON.stringify(chat.body)).to.equal(201);
  const message = await h.relay.api().post(`/api/v1/chats/${chat.body.id}/messages`).set(user.auth).send({ role: 'user', content });
  expect(message.status, JSON.stringify(message.body)).to.equal(201);
  return chat.body.id as string;
}

export async function messagesOf(h: RelayHarness, user: TestUser, chatId: string): Promise<Array<{ id: string; role: string; content: string; model: string | null; promptTokens: number | null; completionTokens: number | null }>> {
  const res = await h.relay.api().get(`/api/v1/chats/${chatId}/messages?limit=100`).set(user.auth);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.items;
}

/** Parses an event stream incrementally; `onEvent` may return false to stop reading. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (e: SseEvent) => boolean | void = () => {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(buffer[newline] === '\r' ? newline + 2 : newline + 1);
      if (line === '') {
        if (data.length) {
          const e = { event, data: data.join('\n') };
          events.push(e);
          if (onEvent(e) === false) return events;
        }
        event = 'message';
        data = [];
      } else if (line.startsWith(':')) {
        continue;
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
  return events;
}

export function postCompletion(h: RelayHarness, user: TestUser, chatId: string, body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${origin(h)}/api/v1/chats/${chatId}/completions`, { method: 'POST', signal, headers: { ...user.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
