import { pino, type Logger } from 'pino';

// Credentials, tokens, cookies and bodies never reach a log line (DESIGN.md, Logs).
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'req.body',
  'res.body',
  '*.password',
  '*.newPassword',
  '*.passphrase',
  '*.token',
  '*.totp',
  '*.recoveryCode',
  '*.secret',
  '*.apiKey',
];

/**
 * Service roles log to stdout (fd 1, where log collectors look); operator commands pass fd 2 so
 * their stdout carries only the summary a script parses.
 */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  return pino({
    level,
    base: { service: 'custos' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  }, pino.destination({ fd, sync: true }));
}

export type { Logger };
