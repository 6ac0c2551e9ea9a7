// Keyset pagination over the `seq` identity of each table. The cursor is opaque to clients
// (base64url of a tagged seq) so we can change its contents later without breaking them; a
// tampered cursor is a 400, and it can never widen a query because every query is also scoped
// by the authenticated user.
import { BadRequestError } from '../../platform/http/problem.js';

const PREFIX = 'c1.';

export function encodeCursor(seq: number): string {
  return Buffer.from(`${PREFIX}${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const seq = raw.startsWith(PREFIX) ? Number(raw.slice(PREFIX.length)) : NaN;
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new BadRequestError('The cursor is not valid; pass back the nextCursor of the previous page unchanged.', [
      { field: 'query.cursor', message: 'is not a cursor this API issued' },
    ]);
  }
  return seq;
}

/** Rows are fetched with limit + 1: the extra row only tells whether another page exists. */
export function pageOf<Row extends { seq: number | string }>(rows: Row[], limit: number): { rows: Row[]; nextCursor: string | null } {
  const pageRows = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? encodeCursor(Number(pageRows[pageRows.length - 1].seq)) : null;
  return { rows: pageRows, nextCursor };
}
