// A page of a user's messages as PostgreSQL packs it for an export: one row per page, one bytea
// of length-prefixed records, still sealed (content_enc as stored), sent as base64 text.
// Issue 15: parsing 1,000 rows of eight columns (strings, hex bytea, a Buffer per value) was a
// fifth of the export's main thread; one value per page is a single native base64 decode (a third
// less to read than bytea's hex), and its one Buffer moves to the decrypting thread
// (chat-export-thread.ts) without a copy. The SQL that writes a record and the reader that reads
// it are kept together here so they cannot drift.
//
// A record, integers big-endian as int4send writes them:
//   id, chat_id (uuid text, 36 each) | nulls (1: bit 0 model, 1 prompt_tokens, 2 completion_tokens)
//   | prompt_tokens (int4) | completion_tokens (int4)
//   | role, model, created_at as ISO 8601 UTC with ms, content_enc: each an int4 length + its bytes
import type { MessageRole } from './chat-types.js';

/**
 * One page after `seq > ?` for `user_id = ?`, `LIMIT ?`: `rows` (int), `last_seq` (text, the keyset
 * cursor) and `records` (base64 text of the bytea, in seq order). created_at is formatted outside the LIMIT, so a sort
 * plan would not format every row it scans.
 */
export const SEALED_MESSAGE_PAGE_SQL = `
  SELECT count(*)::int AS rows, max(m.seq)::text AS last_seq, encode(coalesce(string_agg(
      convert_to(m.id::text || m.chat_id::text, 'UTF8')
      || set_byte('\\x00'::bytea, 0, (m.model IS NULL)::int | ((m.prompt_tokens IS NULL)::int << 1) | ((m.completion_tokens IS NULL)::int << 2))
      || int4send(coalesce(m.prompt_tokens, 0)) || int4send(coalesce(m.completion_tokens, 0))
      || int4send(octet_length(t.role)) || t.role
      || int4send(octet_length(t.model)) || t.model
      || int4send(octet_length(t.created)) || t.created
      || int4send(octet_length(m.content_enc)) || m.content_enc,
      ''::bytea ORDER BY m.seq), ''::bytea), 'base64') AS records
  FROM (SELECT id, chat_id, seq, role, model, prompt_tokens, completion_tokens, created_at, content_enc
        FROM messages WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?) m
  CROSS JOIN LATERAL (SELECT convert_to(m.role, 'UTF8') AS role, convert_to(coalesce(m.model, ''), 'UTF8') AS model,
    convert_to(to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'UTF8') AS created) t`;

/** Where chat-repo seals a message's content: the associated data binds it to this row. */
export const messageContentAt = (id: string) => ({ table: 'messages', column: 'content_enc', rowId: id });

export interface SealedMessagePage {
  rows: number;
  /** The records above; the only reference to them once handed to the decrypting thread. */
  records: Buffer;
}

export interface SealedMessage {
  id: string;
  chatId: string;
  role: MessageRole;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  createdAt: string;
  contentEnc: Buffer;
}

/** The records of one page, in order. Throws on a truncated page instead of reading past it. */
export function readSealedMessages(records: Buffer): SealedMessage[] {
  const out: SealedMessage[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > records.length) throw new RangeError('sealed message page is truncated');
  };
  /** An int4 length and that many bytes: where they start and end. */
  const field = () => {
    need(4);
    const length = records.readInt32BE(at);
    need(4 + length);
    at += 4 + length;
    return at - length;
  };
  while (at < records.length) {
    need(36 + 36 + 1 + 8);
    const id = records.toString('latin1', at, at + 36);
    const chatId = records.toString('latin1', at + 36, at + 72);
    const nulls = records[at + 72];
    const promptTokens = nulls & 2 ? null : records.readInt32BE(at + 73);
    const completionTokens = nulls & 4 ? null : records.readInt32BE(at + 77);
    at += 81;
    const role = records.toString('latin1', field(), at) as MessageRole;
    const modelFrom = field();
    const model = nulls & 1 ? null : records.toString('utf8', modelFrom, at);
    const createdAt = records.toString('latin1', field(), at);
    const contentFrom = field();
    out.push({ id, chatId, role, model, promptTokens, completionTokens, createdAt, contentEnc: records.subarray(contentFrom, at) });
  }
  return out;
}
