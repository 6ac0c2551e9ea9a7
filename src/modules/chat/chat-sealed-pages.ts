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

/**
 * Where one record's fields lie in its page, as byte offsets ([from, to) pairs); ids are 36 ASCII
 * bytes. One object serves every record of a page: the export thread reads the fields in place,
 * without a string or an object per row.
 */
export interface SealedRecordAt {
  id: number;
  chatId: number;
  hasModel: boolean;
  promptTokens: number | null;
  completionTokens: number | null;
  roleFrom: number;
  roleTo: number;
  modelFrom: number;
  modelTo: number;
  createdFrom: number;
  createdTo: number;
  contentFrom: number;
  contentTo: number;
}

export const UUID_TEXT_BYTES = 36;

/** Visits the records of one page in order; returns how many. Throws on a truncated page instead of reading past it. */
export function eachSealedRecord(records: Buffer, visit: (record: SealedRecordAt) => void): number {
  const r: SealedRecordAt = {
    id: 0, chatId: 0, hasModel: false, promptTokens: null, completionTokens: null,
    roleFrom: 0, roleTo: 0, modelFrom: 0, modelTo: 0, createdFrom: 0, createdTo: 0, contentFrom: 0, contentTo: 0,
  };
  let at = 0;
  let count = 0;
  const need = (n: number) => {
    if (at + n > records.length) throw new RangeError('sealed message page is truncated');
  };
  /** An int4 length and that many bytes: moves past them, returns where they start. */
  const field = () => {
    need(4);
    const length = records.readInt32BE(at);
    if (length < 0) throw new RangeError('sealed message page is truncated');
    need(4 + length);
    at += 4 + length;
    return at - length;
  };
  while (at < records.length) {
    need(2 * UUID_TEXT_BYTES + 1 + 8);
    r.id = at;
    r.chatId = at + UUID_TEXT_BYTES;
    const nulls = records[at + 72];
    r.hasModel = (nulls & 1) === 0;
    r.promptTokens = nulls & 2 ? null : records.readInt32BE(at + 73);
    r.completionTokens = nulls & 4 ? null : records.readInt32BE(at + 77);
    at += 81;
    r.roleFrom = field();
    r.roleTo = at;
    r.modelFrom = field();
    r.modelTo = at;
    r.createdFrom = field();
    r.createdTo = at;
    r.contentFrom = field();
    r.contentTo = at;
    visit(r);
    count += 1;
  }
  return count;
}
