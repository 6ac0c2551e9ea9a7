// A pino logger whose lines a test reads, for tests that check what the service says.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export function capturedLogger(level = 'warn'): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  return { logger: pino({ level }, sink), text: () => lines.join('') };
}
