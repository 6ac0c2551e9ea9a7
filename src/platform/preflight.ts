// Checks before serve, worker, scheduler or dev start work, each failing with a message that
// says what to do: the database role (production never runs as a superuser or the audit
// tables' owner), and the master keys (the ones this database's data keys were wrapped with).
import { connectedRole } from './db-roles.js';
import type { Platform } from './platform.js';

export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/** Refuses, in production, a connection (the primary's, or the read replica's) that could bypass the audit trail's protection. */
export async function checkRuntimeRole(platform: Pick<Platform, 'config' | 'db' | 'readDb' | 'logger'>, process: string): Promise<void> {
  const { config, db, readDb, logger } = platform;
  const pools = [['DATABASE_URL', db, config.databaseUrl], ...(readDb !== db ? [['DATABASE_READ_URL', readDb, config.databaseReadUrl!] as const] : [])] as const;
  for (const [variable, pool, url] of pools) {
    const connected = await connectedRole(pool);
    if (!connected.superuser && !connected.auditOwner) continue;
    const what = connected.superuser ? `PostgreSQL superuser "${connected.role}"` : `"${connected.role}", which owns the audit tables`;
    if (config.env !== 'production') {
      logger.warn({ role: connected.role, variable }, `${process} connects as ${what}; production refuses this`);
      continue;
    }
    const example = new URL(url);
    example.username = config.database.runtimeRole;
    example.password = 'PASSWORD';
    throw new PreflightError([
      `refusing to run ${process} as ${what} in production (${variable}): privileges, REVOKE and the audit trail's append-only rule do not bind it.`,
      `Run \`custos migrate\` with the owner connection in CUSTOS_MIGRATION_DATABASE_URL (it creates the runtime role "${config.database.runtimeRole}"),`,
      `then set ${variable} to connect as that role, e.g. ${example.toString()}`,
    ].join('\n'));
  }
}

/** Fails when the configured master keys cannot unwrap this database's data keys. */
export async function checkMasterKeys(platform: Pick<Platform, 'config' | 'keyStore'>): Promise<void> {
  const { config, keyStore } = platform;
  let result: Awaited<ReturnType<typeof keyStore.checkMasterKeys>>;
  try {
    result = await keyStore.checkMasterKeys();
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new PreflightError(`database "${config.database.name}" is not migrated (no key store): run \`custos migrate\` first`);
    }
    throw error;
  }
  if (!result.unopened.length) return;
  const server = new URL(config.databaseUrl);
  const configured = [...config.masterKeys.keys()].sort((a, b) => a - b);
  const fromDevFile = config.generatedSecrets.includes('CUSTOS_MASTER_KEYS');
  const source = fromDevFile ? `CUSTOS_MASTER_KEYS from the development secrets file ${config.devSecretsFile}` : 'CUSTOS_MASTER_KEYS';
  throw new PreflightError([
    `the master keys do not match database "${config.database.name}" on ${server.hostname}:${server.port || 5432}:`,
    `its data keys are wrapped with master key version${result.versionsInUse.length > 1 ? 's' : ''} ${result.versionsInUse.join(', ')};`
      + ` configured: version${configured.length > 1 ? 's' : ''} ${configured.join(', ')} (${source});`
      + ` ${result.unopened.map((u) => `version ${u.version} ${u.reason === 'not configured' ? 'is not configured' : 'does not unwrap them'}`).join(', ')}.`,
    'This database was encrypted with other secrets (another checkout, or a lost or regenerated secrets file). Two ways out:',
    `  1. restore the secrets it was created with: put the old ${fromDevFile ? config.devSecretsFile : 'CUSTOS_MASTER_KEYS'} back${fromDevFile ? ' (or set CUSTOS_MASTER_KEYS to the old keys)' : ''};`,
    `  2. or use a new database: ${config.env === 'development' ? 'unset DATABASE_URL to use this checkout\'s own database, or ' : ''}point DATABASE_URL at another database`
      + ` (the data in "${config.database.name}" stays unreadable without the old keys; drop it with \`dropdb ${config.database.name}\` if it is expendable).`,
  ].join('\n'));
}
