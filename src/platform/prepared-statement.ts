// A hot statement PostgreSQL parses and plans once per connection (a named prepared statement)
// instead of on every run. Worth it only where parsing costs as much as running: the relay's
// settlement batch, a five-part CTE over JSON records, costs PostgreSQL ~3.4 ms a batch unnamed
// and ~2.3 ms named (bench/results/relay.md).
//
// A transaction pooler can break names. Behind PgBouncer in transaction mode (before 1.21, or
// with max_prepared_statements = 0) a name prepared on one server connection is missing on the
// next one (26000) or already taken there (42P05). A migration that changes a result type makes
// a prepared plan unusable (0A000). In every such case the server refused the statement before
// running it (and outside a transaction a failed statement writes nothing), so it is sent again
// unnamed, and it stays unnamed for the life of the process (node-postgres remembers a name per
// client connection, so retrying the name would fail again).
// The name carries a hash of the SQL, so two releases sharing a pooled server connection during a
// rolling deploy never run each other's text under one name.
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from './logger.js';

/** SQLSTATEs meaning the named statement was refused before it ran (see above). */
const NAME_UNUSABLE = new Set(['26000', '42P05', '0A000']);

/** Runs the statement with positional `?` bindings, as `db.raw(sql, bindings)` would. */
export type PreparedStatement = (db: Knex, bindings: readonly Knex.RawBinding[]) => Promise<{ rows: unknown[] }>;

/** The statement as `<label>_<12 hex digits of the SQL's SHA-256>` on the server, unnamed once a connection refused the name. */
export function preparedStatement(label: string, sql: string, logger: Pick<Logger, 'warn'>): PreparedStatement {
  const name = `${label}_${createHash('sha256').update(sql).digest('hex').slice(0, 12)}`;
  let named = true;
  return async (db, bindings) => {
    // Inside a transaction a refused statement would abort it; the retry could not run there.
    if (!named || db.isTransaction) return db.raw(sql, bindings as Knex.RawBinding[]);
    try {
      return await db.raw(sql, bindings as Knex.RawBinding[]).options({ name });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!code || !NAME_UNUSABLE.has(code)) throw error;
      named = false;
      logger.warn({ statement: name, code }, 'database: a connection refused a named prepared statement (a transaction pooler?); it is sent unnamed from now on');
      return db.raw(sql, bindings as Knex.RawBinding[]);
    }
  };
}
