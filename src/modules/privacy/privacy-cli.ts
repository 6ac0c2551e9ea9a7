// `custos export decrypt`: opens a downloaded export for people without GnuPG. Works offline; it
// needs neither the database nor any secret of the service, only the user's passphrase.
import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import * as openpgp from 'openpgp';
import type { CliContext } from '../../cli/context.js';

export async function decryptExport(input: string, output: string, passphrase: string): Promise<void> {
  const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(createReadStream(input)) as unknown as ReadableStream<Uint8Array> });
  const { data } = await openpgp.decrypt({ message, passwords: [passphrase], format: 'binary' });
  // Written under a temporary name: a wrong passphrase or a damaged file leaves no half ZIP behind.
  const temporary = `${output}.partial`;
  try {
    await pipeline(Readable.fromWeb(data as unknown as WebReadableStream<Uint8Array>), createWriteStream(temporary, { mode: 0o600 }));
    await rename(temporary, output);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function registerPrivacyCommands(program: Command, _ctx: CliContext): void {
  const exportCommand = program.command('export').description('Data exports.');
  exportCommand.command('decrypt')
    .description('Decrypt a downloaded export (.zip.gpg) made with a passphrase into a ZIP file.')
    .requiredOption('--in <file>', 'the downloaded export')
    .option('--out <file>', 'where to write the ZIP (default: the input without .gpg)')
    .option('--passphrase <passphrase>', 'the export passphrase; or set CUSTOS_EXPORT_PASSPHRASE (keeps it out of shell history)')
    .action(async (options: { in: string; out?: string; passphrase?: string }) => {
      const passphrase = options.passphrase ?? process.env.CUSTOS_EXPORT_PASSPHRASE;
      if (!passphrase) throw new Error('give --passphrase or set CUSTOS_EXPORT_PASSPHRASE');
      const out = options.out ?? (options.in.endsWith('.gpg') ? options.in.slice(0, -4) : `${options.in}.zip`);
      try {
        await decryptExport(options.in, out, passphrase);
      } catch (error) {
        throw new Error(`cannot decrypt ${options.in}: ${(error as Error).message} (wrong passphrase, or the file is damaged or incomplete)`);
      }
      process.stdout.write(`decrypted to ${out}\n`);
    });
}
