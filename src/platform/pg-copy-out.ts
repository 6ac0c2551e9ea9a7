// One `COPY (…) TO STDOUT` read into one buffer through a node-postgres connection (issue 15: an
// export's message pages). Why COPY: rows come in PostgreSQL's binary COPY format, bytea as raw
// bytes, while node-postgres decodes every value of a normal result as a UTF-8 string (its binary
// mode too), so a bulk bytea read otherwise costs a base64 or hex encoding in PostgreSQL, a
// string of the whole page in V8 and a decoding back. The object below is a node-postgres
// Submittable (`client.query(submittable)`, the interface pg-cursor and pg-query-stream build on);
// COPY takes no bind parameters, so callers build the statement with `escapeLiteral`.

/** The part of a pg.Client this needs: `query(submittable)` and `escapeLiteral`. */
export interface CopyOutConnection {
  query(submittable: unknown): unknown;
  escapeLiteral(value: string): string;
}

interface ProtocolConnection { query(text: string): void; sendCopyFail(message: string): void }

/**
 * Reads COPY results one after another, each into a buffer of its own (exactly its bytes, alone
 * on its memory, so it can be transferred to a worker thread), through one scratch buffer kept
 * between reads: one reader per connection, one read at a time.
 */
export function createCopyOutReader(initialBytes = 1 << 20) {
  let scratch = Buffer.allocUnsafeSlow(initialBytes);

  return function copyOut(connection: CopyOutConnection, text: string): Promise<{ bytes: Buffer; rows: number }> {
    return new Promise((resolve, reject) => {
      let at = 0;
      let rows = 0;
      let failure: Error | undefined;
      connection.query({
        submit(protocol: ProtocolConnection) {
          protocol.query(text);
        },
        // The chunk is a view of node-postgres' read buffer, which it reuses: copied at once.
        handleCopyData(message: { chunk: Buffer }) {
          const { chunk } = message;
          if (at + chunk.length > scratch.length) {
            const bigger = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, at + chunk.length));
            scratch.copy(bigger, 0, 0, at);
            scratch = bigger;
          }
          at += chunk.copy(scratch, at);
        },
        handleCommandComplete(message: { text?: string }) {
          rows = Number(/^COPY (\d+)/.exec(message.text ?? '')?.[1] ?? 0);
        },
        // Not a COPY TO STDOUT after all: refused rather than read wrongly.
        handleRowDescription() { failure ??= new Error('copyOut: the statement returned rows, not COPY data'); },
        handleDataRow() {},
        handleEmptyQuery() { failure ??= new Error('copyOut: empty statement'); },
        handleCopyInResponse(protocol: ProtocolConnection) {
          failure ??= new Error('copyOut: the statement is a COPY FROM');
          protocol.sendCopyFail('not a COPY TO STDOUT');
        },
        handlePortalSuspended() {},
        // node-postgres calls this for an ErrorResponse (the query is then no longer active) and
        // when the connection fails; otherwise the result ends with handleReadyForQuery.
        handleError(error: Error) {
          reject(error);
        },
        handleReadyForQuery() {
          if (failure) return reject(failure);
          const bytes = Buffer.allocUnsafeSlow(at);
          scratch.copy(bytes, 0, 0, at);
          resolve({ bytes, rows });
        },
      });
    });
  };
}
