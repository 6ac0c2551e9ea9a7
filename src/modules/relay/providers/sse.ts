// Server-sent events read incrementally from a fetch body: yields each event's exact text as soon
// as its blank line arrives, holding only the unfinished tail (constant memory per stream).
export interface SseEvent {
  /** The event's text including its terminating blank line, ready to forward unchanged. */
  raw: string;
  event?: string;
  data: string;
}

const BOUNDARY = /\r?\n\r?\n/;
// One event larger than this is not a chat chunk; refuse rather than buffer without bound.
const MAX_EVENT_CHARS = 1 << 20;

function parseEvent(raw: string): SseEvent {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    else if (line.startsWith('event:')) event = line.slice(6).trim();
  }
  return { raw, event, data: data.join('\n') };
}

export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let tail = '';
  for await (const chunk of body) {
    tail += decoder.decode(chunk, { stream: true });
    for (;;) {
      const match = BOUNDARY.exec(tail);
      if (!match) break;
      const end = match.index + match[0].length;
      const raw = tail.slice(0, end);
      tail = tail.slice(end);
      if (raw.trim() === '' || raw.startsWith(':')) continue;
      yield parseEvent(raw);
    }
    if (tail.length > MAX_EVENT_CHARS) throw new Error('SSE event too large');
  }
  tail += decoder.decode();
  if (tail.trim()) yield parseEvent(`${tail}\n\n`);
}

export const sseData = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
