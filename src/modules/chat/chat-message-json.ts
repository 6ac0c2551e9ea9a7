// Messages serialised for an export straight from their decrypted UTF-8 bytes into Buffers:
// byte for byte what JSON.stringify(messageView(m)) gives (test/privacy/export-json.test.ts
// compares the two on hostile text), without decoding every message into a string, building two
// objects per row, stringifying and encoding back to UTF-8 (issue 15: those conversions were a
// third of the export's thread time on a chat-heavy account).
import { isUtf8 } from 'node:buffer';
import type { MessageRole } from './chat-types.js';

/** A message as the export reads it: content as UTF-8 bytes, createdAt already ISO 8601 (UTC, ms). */
export interface MessageBytes {
  id: string;
  chatId: string;
  role: MessageRole;
  content: Buffer;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** JSON.stringify's escapes for the bytes that need one: the short forms, else \u00xx (lowercase). */
const ESCAPES: Buffer[] = Array.from({ length: 0x60 }, (_, c) => {
  if (c === QUOTE) return Buffer.from('\\"');
  if (c === BACKSLASH) return Buffer.from('\\\\');
  if (c >= 0x20) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(String.fromCharCode(c)).slice(1, -1));
});

class Out {
  readonly chunks: Buffer[] = [];
  private buf: Buffer;
  private at = 0;
  constructor(private readonly size: number) { this.buf = Buffer.allocUnsafe(size); }

  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    this.close();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.size));
  }

  /** ASCII only (ids, roles, numbers, timestamps, JSON.stringify'd strings are not). */
  ascii(s: string): void {
    this.ensure(s.length);
    this.at += this.buf.write(s, this.at, 'latin1');
  }

  utf8(s: string): void {
    this.ensure(Buffer.byteLength(s));
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** A JSON string of UTF-8 bytes: only ", \ and control bytes need escaping; the rest is copied. */
  jsonBytes(src: Buffer): void {
    if (!isUtf8(src)) return this.utf8(JSON.stringify(src.toString('utf8')));
    this.ensure(src.length + 2);
    this.buf[this.at++] = QUOTE;
    let from = 0;
    for (let i = 0; i < src.length; i += 1) {
      const c = src[i];
      if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) continue;
      const escape = ESCAPES[c];
      this.ensure(i - from + escape.length + (src.length - i) + 1);
      this.at += src.copy(this.buf, this.at, from, i);
      this.at += escape.copy(this.buf, this.at);
      from = i + 1;
    }
    this.ensure(src.length - from + 1);
    this.at += src.copy(this.buf, this.at, from);
    this.buf[this.at++] = QUOTE;
  }

  close(): void {
    if (this.at > 0) this.chunks.push(this.buf.subarray(0, this.at));
    this.buf = this.buf.subarray(this.at);
    this.at = 0;
  }
}

const nullable = (n: number | null) => (n === null ? 'null' : String(n));

/** One page of messages as JSON objects separated by ",\n" (no leading or trailing separator). */
export function messagesJson(page: MessageBytes[]): Buffer[] {
  let estimate = 0;
  for (const m of page) estimate += m.content.length + 256;
  const out = new Out(Math.min(estimate + 64, 4 * 1024 * 1024));
  page.forEach((m, i) => {
    out.ascii(`${i ? ',\n' : ''}{"id":"${m.id}","chatId":"${m.chatId}","role":"${m.role}","content":`);
    out.jsonBytes(m.content);
    out.ascii(',"model":');
    if (m.model === null) out.ascii('null');
    else out.utf8(JSON.stringify(m.model));
    out.ascii(`,"promptTokens":${nullable(m.promptTokens)},"completionTokens":${nullable(m.completionTokens)},"createdAt":"${m.createdAt}"}`);
  });
  out.close();
  return out.chunks;
}
