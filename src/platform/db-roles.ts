// Database roles (DESIGN.md, Database roles; issue 16, item 1).
//
// - The audit tables and their purge function belong to a NOLOGIN role, `<database>_audit_owner`.
//   Nobody logs in as it; the append-only trigger lets DELETE through only for it, which in
//   practice means inside audit_purge_through() (SECURITY DEFINER).
// - serve, worker and scheduler connect as the runtime role: LOGIN, not a superuser, not the
//   owner of anything, with exactly what the application does: read and write its own tables,
//   only SELECT and INSERT (of columns other than the sequence number and the time) on the audit
//   tables, EXECUTE on the purge function, and CREATEDB for backup verification's scratch
//   database. No UPDATE, DELETE or TRUNCATE on the trail, and no write to audit_settings, where
//   the retention period the purge function enforces is recorded.
//
// `custos migrate` runs this with the owner connection after the migrations, every time, so new
// tables of later migrations are granted and a restored database gets its owner back. Roles are
// cluster-wide while databases are not: names are derived from the database name (database-names.ts)
// so databases sharing a cluster never fight over one role, and concurrent runs are retried when
// PostgreSQL reports a race on the role catalog.
import pg from 'pg';
import type { Config } from '../config.js';
import { createDb, migrateLatest, type Knex } from './db.js';
import { roleNameFor } from './database-names.js';

export interface RoleOptions {
  runtimeRole: string;
  /** Set as the runtime role's password when given; left unchanged otherwise. */
  runtimePassword?: string;
  /** CUSTOS_AUDIT_RETENTION_DAYS, recorded for the purge function. */
  retentionDays: number;
}

export interface PreparedRoles {
  runtimeRole: string;
  auditOwnerRole: string;
  createdRuntimeRole: boolean;
}

const AUDIT_TABLES = ['audit_events', 'audit_chain', 'audit_checkpoints', 'audit_settings'];
/** Columns of the audit tables the runtime may not set: the database assigns them. */
const ASSIGNED_COLUMNS: Record<string, string[]> = { audit_events: ['seq', 'occurred_at'], audit_chain: ['sealed_at'], audit_checkpoints: ['id'] };
const READ_ONLY_TABLES = ['knex_migrations', 'knex_migrations_lock', 'audit_settings'];

/** duplicate_object, unique_violation, "tuple concurrently updated", deadlock, serialization failure. */
const isCatalogRace = (error: unknown) => {
  const e = error as { code?: string; message?: string };
  return ['42710', '23505', '40P01', '40001'].includes(e.code ?? '') || /tuple concurrently (updated|deleted)/.test(e.message ?? '');
};

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

export async function prepareDatabaseRoles(owner: Knex, options: RoleOptions): Promise<PreparedRoles> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await owner.transaction((trx) => prepareOnce(trx, options));
    } catch (error) {
      if (attempt >= 6 || !isCatalogRace(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 100));
    }
  }
}

async function prepareOnce(trx: Knex.Transaction, { runtimeRole, runtimePassword, retentionDays }: RoleOptions): Promise<PreparedRoles> {
  // Two `custos migrate` on one database wait for each other here (advisory locks are per database).
  await trx.raw("SELECT pg_advisory_xact_lock(hashtext('custos.database-roles'))");
  const { rows: [me] } = await trx.raw('SELECT current_user AS name, current_database() AS database, rolsuper AS superuser, rolcreaterole AS createrole FROM pg_roles WHERE rolname = current_user');
  const auditOwnerRole = roleNameFor(me.database, 'audit_owner');
  if (!me.superuser && !me.createrole) {
    throw new Error(`custos migrate connects as "${me.name}", which may not create roles: use a superuser or a role with CREATEROLE in CUSTOS_MIGRATION_DATABASE_URL`);
  }
  const existing = async (name: string) => (await trx.raw('SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = ?', [name])).rows[0] as { rolsuper: boolean } | undefined;
  for (const name of [runtimeRole, auditOwnerRole]) {
    if (name === me.name || (await existing(name))?.rolsuper) {
      throw new Error(`the ${name === runtimeRole ? 'runtime' : 'audit owner'} role "${name}" is a superuser or the migration connection's own role; name a dedicated role in CUSTOS_DATABASE_RUNTIME_ROLE`);
    }
  }

  if (!(await existing(auditOwnerRole))) await trx.raw('CREATE ROLE ?? NOLOGIN', [auditOwnerRole]);
  await trx.raw('ALTER ROLE ?? NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', [auditOwnerRole]);
  const createdRuntimeRole = !(await existing(runtimeRole));
  if (createdRuntimeRole) await trx.raw('CREATE ROLE ?? LOGIN', [runtimeRole]);
  // A role name and a password cannot be bound parameters in a utility statement.
  await trx.raw(`ALTER ROLE ?? LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${runtimePassword ? ` PASSWORD ${literal(runtimePassword)}` : ''}`, [runtimeRole]);
  if ((await trx.raw("SELECT pg_has_role(?, ?, 'MEMBER') AS member", [runtimeRole, auditOwnerRole])).rows[0].member) {
    await trx.raw('REVOKE ?? FROM ??', [auditOwnerRole, runtimeRole]);
  }
  // A non-superuser may only hand objects to a role it belongs to.
  if (!me.superuser) await trx.raw('GRANT ?? TO ??', [auditOwnerRole, me.name]);

  // The trail and its purge function belong to the NOLOGIN owner. Its own privileges are what
  // the purge needs (the first migration revoked UPDATE, DELETE and TRUNCATE from the owner).
  for (const table of AUDIT_TABLES) await trx.raw('ALTER TABLE ?? OWNER TO ??', [table, auditOwnerRole]);
  await trx.raw('ALTER FUNCTION audit_purge_through(bigint) OWNER TO ??', [auditOwnerRole]);
  await trx.raw('REVOKE UPDATE, TRUNCATE ON audit_events, audit_chain, audit_checkpoints FROM ??', [auditOwnerRole]);
  await trx.raw('GRANT SELECT, INSERT, DELETE ON audit_events, audit_chain TO ??', [auditOwnerRole]);
  await trx.raw('GRANT SELECT ON audit_checkpoints, audit_settings TO ??', [auditOwnerRole]);
  await trx.raw(`INSERT INTO audit_settings (id, retention_days) VALUES (true, ?)
    ON CONFLICT (id) DO UPDATE SET retention_days = EXCLUDED.retention_days, recorded_at = now()
    WHERE audit_settings.retention_days IS DISTINCT FROM EXCLUDED.retention_days`, [retentionDays]);

  // The runtime role: the application's tables in every schema of ours, then the exceptions.
  await trx.raw('GRANT CONNECT ON DATABASE ?? TO ??', [me.database, runtimeRole]);
  await trx.raw('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  const { rows: schemas } = await trx.raw(`SELECT nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname`);
  for (const { nspname } of schemas as Array<{ nspname: string }>) {
    await trx.raw('GRANT USAGE ON SCHEMA ?? TO ??', [nspname, runtimeRole]);
    await trx.raw('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ?? TO ??', [nspname, runtimeRole]);
    await trx.raw('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ?? TO ??', [nspname, runtimeRole]);
  }
  for (const table of [...new Set([...AUDIT_TABLES, ...READ_ONLY_TABLES])]) {
    await trx.raw('REVOKE ALL ON ?? FROM ??', [table, runtimeRole]);
    await trx.raw('GRANT SELECT ON ?? TO ??', [table, runtimeRole]);
  }
  for (const [table, assigned] of Object.entries(ASSIGNED_COLUMNS)) {
    const { rows } = await trx.raw(`SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ? AND NOT (column_name = ANY(?)) ORDER BY ordinal_position`, [table, assigned]);
    const columns = rows.map((r: { column_name: string }) => r.column_name);
    await trx.raw(`GRANT INSERT (${columns.map(() => '??').join(', ')}) ON ?? TO ??`, [...columns, table, runtimeRole]);
  }
  // Sequences of the trail and of knex: readable (pg_dump), never advanced by the runtime.
  const { rows: sequences } = await trx.raw(`SELECT s.oid::regclass::text AS name FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') JOIN pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND t.relname = ANY(?) AND t.relnamespace = 'public'::regnamespace`, [[...AUDIT_TABLES, ...READ_ONLY_TABLES]]);
  for (const { name } of sequences as Array<{ name: string }>) {
    await trx.raw(`REVOKE ALL ON SEQUENCE ${name} FROM ??`, [runtimeRole]);
    await trx.raw(`GRANT SELECT ON SEQUENCE ${name} TO ??`, [runtimeRole]);
  }
  await trx.raw('REVOKE ALL ON FUNCTION audit_purge_through(bigint) FROM PUBLIC');
  await trx.raw('GRANT EXECUTE ON FUNCTION audit_purge_through(bigint) TO ??', [runtimeRole]);
  return { runtimeRole, auditOwnerRole, createdRuntimeRole };
}

export interface ConnectedRole {
  role: string;
  superuser: boolean;
  /** Owns (or may act as the owner of) the audit tables. */
  auditOwner: boolean;
}

export async function connectedRole(db: Knex): Promise<ConnectedRole> {
  const { rows: [row] } = await db.raw(`SELECT current_user AS role, r.rolsuper AS superuser,
    coalesce((SELECT pg_has_role(current_user, c.relowner, 'MEMBER') FROM pg_class c WHERE c.oid = to_regclass('public.audit_events')), false) AS audit_owner
    FROM pg_roles r WHERE r.rolname = current_user`);
  return { role: row.role, superuser: row.superuser, auditOwner: row.audit_owner };
}

/**
 * `custos migrate`: the migrations, then the roles and grants, over the owner connection
 * (CUSTOS_MIGRATION_DATABASE_URL, defaulting to DATABASE_URL).
 */
export async function migrateDatabase(config: Pick<Config, 'database' | 'audit'>): Promise<{ applied: string[]; roles: PreparedRoles }> {
  const owner = createDb(config.database.migrationUrl, 1);
  // Two `custos migrate` on one database (two replicas starting, a deploy job retried) must run one
  // after the other: knex refuses rather than waits on its lock, and both can race to create its
  // knex_migrations table before that. A session advisory lock on a connection of its own (locks
  // are per database) serialises the whole step; it is released when that connection closes.
  const lock = new pg.Client({ connectionString: config.database.migrationUrl, application_name: 'custos migrate lock' });
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtext('custos migrate'))`);
    const applied = await migrateLatest(owner);
    const roles = await prepareDatabaseRoles(owner, {
      runtimeRole: config.database.runtimeRole,
      runtimePassword: config.database.runtimePassword,
      retentionDays: config.audit.retentionDays,
    });
    return { applied, roles };
  } finally {
    await owner.destroy();
    await lock.end();
  }
}
