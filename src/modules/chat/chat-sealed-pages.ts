// A page of a user's messages as PostgreSQL sends it for an export: one `COPY … TO STDOUT (FORMAT
// binary)` per page, still sealed (content_enc as stored). Issue 15: an aggregate of the page into
// one base64 value cost PostgreSQL ~18 ms a page (string_agg, the concatenations, base64) and the
// worker a 1.4 MB string per page to decode; binary COPY sends each bytea as it is
// (src/platform/pg-copy-out.ts), and the page's one buffer moves to the decrypting thread
// (chat-export-thread.ts) without a copy. The SQL and the reader of its rows are kept together
// here so they cannot drift.
//
// The binary COPY format (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature, int32
// flags, int32 header-extension length and the extension; then per row an int16 field count and
// per field an int32 length (-1: NULL) and the value's binary form; then int16 -1. Integers are
// big-endian; text is UTF-8; int8 and int4 are their two's-complement bytes.

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 9;

/**
 * The page after `seq > afterSeq` of `userId`, at most `limit` rows, in seq order: seq, id, chat_id,
 * role, model, prompt_tokens, completion_tokens, created_at as ISO 8601 UTC with ms, content_enc.
 * COPY takes no bind parameters: `literal` is the connection's escapeLiteral, and the numbers are
 * checked to be integers. created_at is formatted outside the LIMIT, so a sort plan would not
 * format every row it scans.
 */
export function sealedMessagePageCopy(literal: (value: string) => string, userId: string, afterSeq: number, limit: number): string {
  if (!Number.isSafeInteger(afterSeq) || !Number.isSafeInteger(limit)) throw new TypeError('sealedMessagePageCopy: seq and limit must be integers');
  // COPY takes no bind parameters: the id is escaped, and refused before that unless it is a UUID.
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(userId)) throw new TypeError('sealedMessagePageCopy: the user id must be a UUID');
  return `COPY (SELECT m.seq, m.id::text, m.chat_id::text, m.role, m.model, m.prompt_tokens, m.completion_tokens,
      to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), m.content_enc
    FROM (SELECT seq, id, chat_id, role, model, prompt_tokens, completion_tokens, created_at, content_enc
          FROM messages WHERE user_id = ${literal(userId)}::uuid AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}) m
    ORDER BY m.seq) TO STDOUT (FORMAT binary)`;
}

/** Where chat-repo seals a message's content: the associated data binds it to this row. */
export const messageContentAt = (id: string) => ({ table: 'messages', column: 'content_enc', rowId: id });

export interface SealedMessagePage {
  rows: number;
  /** The page's COPY data; the only reference to it once handed to the decrypting thread. */
  records: Buffer;
}

/**
 * Where one row's fields lie in its page, as byte offsets ([from, to) pairs); ids are 36 ASCII
 * bytes. One object serves every row of a page: the export thread reads the fields in place,
 * without a string or an object per row.
 */
export interface SealedRecordAt {
  seq: number;
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

const broken = () => new RangeError('sealed message page is truncated or malformed');

/** The int32 length of the field at `at` (-1: NULL), checked to fit in the page. No closures over the cursor: this runs ten times a row. */
function fieldLength(records: Buffer, at: number, nullable: boolean, exact = -1): number {
  if (at + 4 > records.length) throw broken();
  const n = records.readInt32BE(at);
  if (n === -1 && nullable) return -1;
  if (n < 0 || (exact >= 0 && n !== exact) || at + 4 + n > records.length) throw broken();
  return n;
}

/** Visits the rows of one page in order; returns how many. Throws on a page that is truncated or not of this shape instead of reading past it. */
export function eachSealedRecord(records: Buffer, visit: (record: SealedRecordAt) => void): number {
  const r: SealedRecordAt = {
    seq: 0, id: 0, chatId: 0, hasModel: false, promptTokens: null, completionTokens: null,
    roleFrom: 0, roleTo: 0, modelFrom: 0, modelTo: 0, createdFrom: 0, createdTo: 0, contentFrom: 0, contentTo: 0,
  };
  if (records.length < SIGNATURE.length + 8 || records.compare(SIGNATURE, 0, SIGNATURE.length, 0, SIGNATURE.length) !== 0) throw broken();
  let at = SIGNATURE.length + 4;
  at += 4 + records.readUInt32BE(at);
  let count = 0;
  let n = 0;
  for (;;) {
    if (at + 2 > records.length) throw broken();
    const fields = records.readInt16BE(at);
    at += 2;
    if (fields === -1) break;
    if (fields !== FIELDS) throw broken();
    fieldLength(records, at, false, 8);
    r.seq = records.readUInt32BE(at + 4) * 2 ** 32 + records.readUInt32BE(at + 8);
    at += 12;
    fieldLength(records, at, false, UUID_TEXT_BYTES);
    r.id = at + 4;
    at += 4 + UUID_TEXT_BYTES;
    fieldLength(records, at, false, UUID_TEXT_BYTES);
    r.chatId = at + 4;
    at += 4 + UUID_TEXT_BYTES;
    n = fieldLength(records, at, false);
    r.roleFrom = at + 4;
    at += 4 + n;
    r.roleTo = at;
    n = fieldLength(records, at, true);
    r.hasModel = n >= 0;
    r.modelFrom = at + 4;
    at += 4 + Math.max(n, 0);
    r.modelTo = at;
    n = fieldLength(records, at, true, 4);
    r.promptTokens = n < 0 ? null : records.readInt32BE(at + 4);
    at += 4 + Math.max(n, 0);
    n = fieldLength(records, at, true, 4);
    r.completionTokens = n < 0 ? null : records.readInt32BE(at + 4);
    at += 4 + Math.max(n, 0);
    n = fieldLength(records, at, false);
    r.createdFrom = at + 4;
    at += 4 + n;
    r.createdTo = at;
    n = fieldLength(records, at, false);
    r.contentFrom = at + 4;
    at += 4 + n;
    r.contentTo = at;
    visit(r);
    count += 1;
  }
  if (at !== records.length) throw broken();
  return count;
}
