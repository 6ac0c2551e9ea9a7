// Secrets for CLI commands, read where no other process can see them: never from argv (every
// user of the machine sees it in `ps` and /proc/<pid>/cmdline), and never echoed on a terminal.
import type { Readable } from 'node:stream';

/** Everything on stdin up to EOF, minus one trailing newline (as `docker login --password-stdin`). */
export async function readSecretFromStdin(stdin: Readable = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Prompts on the terminal with echo off (raw mode: the terminal shows nothing of what is typed),
 * ends at Enter; Ctrl-C and Ctrl-D abort. The prompt goes to stderr so stdout stays parseable.
 */
export function readSecretFromTty(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new Error('stdin is not a terminal'));
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error); else resolve(value);
    };
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new Error('cancelled'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    // Echo off before the prompt shows: keys typed as soon as it appears are not echoed either.
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
    process.stderr.write(prompt);
  });
}
