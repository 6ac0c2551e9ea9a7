// Messages serialised for an export straight from their decrypted UTF-8 bytes and the sealed
// page's own bytes (ids, role, model, created_at as PostgreSQL wrote them) into one buffer per
// page: byte for byte what JSON.stringify(messageView(m)) gives (test/privacy/export-json.test.ts
// compares the two on hostile text), without a string or an object per message (issue 15: the
// conversions, and then the per-row objects and their garbage, were most of the export thread).
import { isUtf8 } from 'node:buffer';
import type { SealedRecordAt } from './chat-sealed-pages.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** JSON.stringify's escapes for the bytes that need one: the short forms, else \u00xx (lowercase). */
const ESCAPES: Uint8Array[] = Array.from({ length: 0x20 }, (_, c) => Buffer.from(JSON.stringify(String.fromCharCode(c)).slice(1, -1)));
ESCAPES[QUOTE] = Buffer.from('\\"');
ESCAPES[BACKSLASH] = Buffer.from('\\\\');
const NEEDS_ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c += 1) NEEDS_ESCAPE[c] = 1;
NEEDS_ESCAPE[QUOTE] = 1;
NEEDS_ESCAPE[BACKSLASH] = 1;

const text = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const ID = text('{"id":"');
const CHAT_ID = text('","chatId":"');
const ROLE = text('","role":"');
const CONTENT = text('","content":');
const MODEL = text(',"model":');
const PROMPT_TOKENS = text(',"promptTokens":');
const COMPLETION_TOKENS = text(',"completionTokens":');
const CREATED_AT = text(',"createdAt":"');
const END = text('"}');
const SEPARATOR = text(',\n');
const NULL = text('null');

/** JSON written into one growing buffer of its own (so a thread can transfer it without a copy). */
export class JsonBuffer {
  protected buf: Uint8Array;
  protected at = 0;

  constructor(sizeHint: number) { this.buf = new Uint8Array(Math.max(sizeHint, 1024)); }

  /** Room for n more bytes; grows by copying into a buffer twice as big. */
  /** Bytes written so far. */
  get length(): number { return this.at; }

  protected ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /** Bytes that need no escaping (ids, role, timestamps), copied in place: short, so no native call. */
  protected plain(src: Uint8Array, from: number, to: number): void {
    this.ensure(to - from);
    const buf = this.buf;
    let at = this.at;
    for (let i = from; i < to; i += 1) buf[at++] = src[i];
    this.at = at;
  }

  protected int(n: number | null): void {
    if (n === null) return this.raw(NULL);
    const digits = String(n);
    this.ensure(digits.length);
    for (let i = 0; i < digits.length; i += 1) this.buf[this.at++] = digits.charCodeAt(i);
  }

  /**
   * A JSON string of UTF-8 bytes: only ", \ and control bytes need escaping. The scan is a table
   * lookup per byte; the runs between escapes are copied natively (half the time of copying byte
   * by byte here, measured on the benchmark's text).
   */
  jsonString(src: Buffer, from: number, to: number): void {
    const whole = from === 0 && to === src.length;
    // Invalid UTF-8: as JSON.stringify of its decoding (U+FFFD for what does not decode).
    if (!isUtf8(whole ? src : src.subarray(from, to))) return this.raw(Buffer.from(JSON.stringify(src.toString('utf8', from, to)), 'utf8'));
    this.ensure(to - from + 2);
    this.buf[this.at++] = QUOTE;
    let run = from;
    for (let i = from; i < to; i += 1) {
      if (NEEDS_ESCAPE[src[i]] === 0) continue;
      const escape = ESCAPES[src[i]];
      this.ensure(i - run + escape.length + (to - i) + 1);
      if (i > run) { this.buf.set(src.subarray(run, i), this.at); this.at += i - run; }
      this.buf.set(escape, this.at);
      this.at += escape.length;
      run = i + 1;
    }
    if (to > run) { this.buf.set(run === 0 && whole ? src : src.subarray(run, to), this.at); this.at += to - run; }
    this.buf[this.at++] = QUOTE;
  }

  /** The page's JSON: a view of its bytes at the start of memory of its own, so its buffer can be transferred (with its slack). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

/** One page's messages as JSON objects separated by ",\n" (no leading or trailing separator). */
export class MessagePageJson extends JsonBuffer {
  private rows = 0;

  /** One message: its fields from the sealed page `source` where `r` says, its content decrypted. */
  message(source: Buffer, r: SealedRecordAt, content: Buffer): void {
    if (this.rows > 0) this.raw(SEPARATOR);
    this.rows += 1;
    this.raw(ID);
    this.plain(source, r.id, r.id + 36);
    this.raw(CHAT_ID);
    this.plain(source, r.chatId, r.chatId + 36);
    this.raw(ROLE);
    this.plain(source, r.roleFrom, r.roleTo); // 'user' or 'assistant' (a CHECK constraint)
    this.raw(CONTENT);
    this.jsonString(content, 0, content.length);
    this.raw(MODEL);
    if (r.hasModel) this.jsonString(source, r.modelFrom, r.modelTo);
    else this.raw(NULL);
    this.raw(PROMPT_TOKENS);
    this.int(r.promptTokens);
    this.raw(COMPLETION_TOKENS);
    this.int(r.completionTokens);
    this.raw(CREATED_AT);
    this.plain(source, r.createdFrom, r.createdTo);
    this.raw(END);
  }
}
