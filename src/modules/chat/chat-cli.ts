// Operator commands of the chat domain: `custos credits add` records a purchase in a user's
// credit ledger (the demo seed and support use it; the relay will write usage through the service).
import type { Command } from 'commander';
import type { CliContext } from '../../cli/context.js';

export function registerChatCommands(program: Command, ctx: CliContext): void {
  const credits = program.command('credits').description("Users' credit ledgers.");
  credits.command('add')
    .description('Record a credit purchase for a user (a positive amount in cents).')
    .requiredOption('--email <email>', "the user's email")
    .requiredOption('--amount-cents <n>', 'amount in cents, e.g. 2000 for 20.00')
    .option('--currency <code>', 'ISO 4217 currency', 'EUR')
    .option('--description <text>', 'what the user bought (stored encrypted)', 'Credit purchase')
    .action(async (options: { email: string; amountCents: string; currency: string; description: string }) => {
      const amountCents = Number(options.amountCents);
      if (!Number.isSafeInteger(amountCents) || amountCents <= 0) throw new Error('--amount-cents must be a positive whole number');
      const container = await ctx.open();
      const user = await container.accounts.findAccountByEmail('user', options.email);
      if (!user) throw new Error(`no user with email ${options.email}`);
      const entry = await container.chat.recordTransaction(user.id, {
        kind: 'purchase',
        amountCents,
        currency: options.currency.toUpperCase(),
        description: options.description,
      });
      const balance = (await container.chat.balances(user.id)).find((b) => b.currency === entry.currency)?.balanceCents ?? 0;
      process.stdout.write(`recorded purchase ${entry.id}: +${amountCents} ${entry.currency} cents for ${options.email}; balance ${balance} ${entry.currency} cents\n`);
    });
}
