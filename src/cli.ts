#!/usr/bin/env node
// The custos command: the process roles (serve, worker, scheduler, dev) and operator commands.
// Every command works non-interactively (flags or environment) so scripts can drive it.
import { Command, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { configurationDocument } from './config.js';
import { createCliContext, describeError, type CliContext } from './cli/context.js';
import { readSecretFromStdin, readSecretFromTty } from './cli/read-secret.js';
import { registerKeyCommands } from './cli/keys-cli.js';
import { migrateDatabase } from './platform/db-roles.js';
import { checkMasterKeys, checkRuntimeRole } from './platform/preflight.js';
import { STAFF_ROLES, type StaffRole } from './platform/http/auth.js';
import { registerAuditCommands } from './modules/audit/audit-cli.js';
import { registerChatCommands } from './modules/chat/chat-cli.js';
import { registerKnowledgeCommands } from './modules/knowledge/knowledge-cli.js';
import { registerBackupCommands } from './modules/backups/backups-cli.js';
import { startScheduler, startWorkers, type RunningRole } from './roles.js';
import { seedDemo } from './seed.js';
import { startServer, type RunningServer } from './server.js';
import { registerPrivacyCommands } from './modules/privacy/privacy-cli.js';

const ctx: CliContext = createCliContext();
const program = new Command('custos')
  .description('Custos: data-subject rights, staff-access audit trail, encryption at rest, encrypted backups.')
  .showHelpAfterError();

/** Runs until SIGTERM/SIGINT, then stops accepting, drains, and closes every pool. */
async function runUntilSignal(parts: Array<RunningServer | RunningRole>) {
  const { logger, config } = (await ctx.open()).platform;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    // Idempotent: a terminal's Ctrl-C can arrive twice (from the tty and forwarded by a wrapper).
    let stopping = false;
    const once = (signal: string) => { if (!stopping) { stopping = true; stop(signal); } };
    process.on('SIGTERM', once);
    process.on('SIGINT', once);
  });
  const forced = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5_000).unref();
  for (const part of parts) await part.close();
  await ctx.close();
  clearTimeout(forced);
}

/** The container, once the database role and the master keys are known to be right (see preflight.ts). */
async function openChecked(processName: string) {
  const container = await ctx.open();
  await checkRuntimeRole(container.platform, processName);
  await checkMasterKeys(container.platform);
  return container;
}

program.command('serve').description('Run the HTTP API.').action(async () => {
  ctx.logToStdout();
  const server = await startServer(await openChecked('serve'));
  await runUntilSignal([server]);
});

program.command('worker').description('Run the BullMQ workers (exports, deletions, backups, purges).').action(async () => {
  ctx.logToStdout();
  await runUntilSignal([startWorkers(await openChecked('worker'))]);
});

program.command('scheduler').description('Run the cron scheduler that enqueues periodic jobs.').action(async () => {
  ctx.logToStdout();
  await runUntilSignal([startScheduler(await openChecked('scheduler'))]);
});

program.command('dev')
  .description('Laptop/demo mode: migrate, seed demo data, then run API, workers and scheduler in one process.')
  .action(async () => {
    await migrateDatabase(ctx.config({ generateDevSecrets: true }));
    ctx.logToStdout();
    const container = await openChecked('dev');
    const demo = await seedDemo(container);
    const server = await startServer(container);
    const parts = [server, startWorkers(container), startScheduler(container)];
    const totp = demo.dpo.totpSecret;
    process.stdout.write([
      '',
      `Custos is running at ${server.url}`,
      `API reference:       ${server.url}/docs`,
      container.platform.config.generatedSecrets.includes('CUSTOS_METRICS_TOKEN')
        ? `Metrics:             curl -H "Authorization: Bearer $(sed -n 's/^CUSTOS_METRICS_TOKEN=//p' ${process.env.CUSTOS_DEV_SECRETS_FILE ?? '.custos/dev-secrets.env'})" ${server.url}/metrics`
        : `Metrics:             ${server.url}/metrics (Authorization: Bearer $CUSTOS_METRICS_TOKEN)`,
      '',
      `Demo user:  ${demo.user.email} / ${demo.user.password}`,
      `DPO staff:  ${demo.dpo.email} / ${demo.dpo.password}`,
      totp
        ? `DPO TOTP:   secret ${totp} — current code: oathtool --totp -b ${totp}`
        : 'DPO TOTP:   already enrolled (secret kept in .custos/demo-dpo-totp.txt)',
      '',
      `Try: curl -s ${server.url}/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"${demo.user.email}","password":"${demo.user.password}"}'`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'));
    await runUntilSignal(parts);
  });

program.command('migrate')
  .description('Apply database migrations over the owner connection (CUSTOS_MIGRATION_DATABASE_URL, default DATABASE_URL), then create or update the runtime role and its grants.')
  .action(async () => {
    const { applied, roles } = await migrateDatabase(ctx.config());
    process.stdout.write(applied.length ? `applied ${applied.length} migration(s):\n${applied.map((m) => `  ${m}`).join('\n')}\n` : 'database is up to date\n');
    process.stdout.write(`runtime role ${roles.runtimeRole} ${roles.createdRuntimeRole ? 'created' : 'updated'}; audit tables owned by ${roles.auditOwnerRole} (NOLOGIN)\n`);
  });

program.command('seed')
  .description('Create the demo user (with data) and the demo DPO staff account. Idempotent.')
  .option('--force', 'allow seeding in production')
  .action(async (options: { force?: boolean }) => {
    const config = ctx.config();
    if (config.env === 'production' && !options.force) throw new Error('refusing to seed demo accounts in production (use --force)');
    const demo = await seedDemo(await ctx.open());
    process.stdout.write(`demo user ${demo.user.email} (${demo.user.id})\nDPO staff ${demo.dpo.email} (${demo.dpo.id})\n`);
  });

const staff = program.command('staff').description('Staff accounts.');
staff.command('create')
  .description('Create a staff account. The password comes from stdin (--password-stdin) or a prompt on a terminal (not echoed); otherwise a one-time password is printed.')
  .requiredOption('--email <email>', 'staff email')
  .addOption(new Option('--role <role>', 'role').choices(STAFF_ROLES).makeOptionMandatory())
  .option('--password-stdin', 'read the password (≥ 12 characters) from stdin, e.g. from a secrets manager through a pipe')
  // Gone on purpose: argv is world-readable (`ps`, /proc/<pid>/cmdline). Kept hidden only to refuse it clearly.
  .addOption(new Option('--password [password]').hideHelp())
  .action(async (options: { email: string; role: StaffRole; passwordStdin?: boolean; password?: string | boolean }) => {
    if (options.password !== undefined) {
      throw new Error('--password is no longer accepted: a password in the command line is visible to every user of the machine (ps). '
        + "Pipe it in with --password-stdin, e.g. `printf '%s' \"$PASSWORD\" | custos staff create --email … --role … --password-stdin`, or run the command on a terminal to be prompted.");
    }
    let password: string | undefined;
    let generated = false;
    if (options.passwordStdin) {
      password = await readSecretFromStdin();
      if (!password) throw new Error('--password-stdin: stdin held no password (pipe one in, ≥ 12 characters)');
    } else if (process.stdin.isTTY) {
      password = await readSecretFromTty('Password (≥ 12 characters, not shown): ');
      if (password && (await readSecretFromTty('Same password again: ')) !== password) throw new Error('the two passwords differ; nothing was created');
    }
    if (!password) {
      password = randomBytes(18).toString('base64url');
      generated = true;
    }
    const account = await (await ctx.open()).accounts.createStaff(options.email, options.role, password);
    process.stdout.write(`created staff ${account.email} (${account.id}) with role ${account.role}\n`);
    if (generated) process.stdout.write(`one-time password: ${password}\n(shown once; TOTP enrolment is required at first login)\n`);
  });
staff.command('list').description('List staff accounts.').action(async () => {
  for (const member of await (await ctx.open()).accounts.listStaff()) {
    process.stdout.write(`${member.id}  ${(member.role ?? "").padEnd(8)}  ${member.email}  totp=${member.totpConfirmedAt ? 'yes' : 'no'}\n`);
  }
});

registerKeyCommands(program, ctx);

registerPrivacyCommands(program, ctx);

registerAuditCommands(program, ctx);

registerBackupCommands(program, ctx);

program.command('config').description('Configuration reference.')
  .command('docs').description('Print docs/configuration.md: every environment variable with its default, as Markdown.')
  .action(() => { process.stdout.write(configurationDocument()); });
registerChatCommands(program, ctx);
registerKnowledgeCommands(program, ctx);

program.parseAsync(process.argv)
  .then(() => ctx.close())
  .catch(async (error) => {
    process.stderr.write(`custos: ${describeError(error)}\n`);
    await ctx.close().catch(() => {});
    process.exitCode = process.exitCode || 1;
  });
