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

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'custos' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
  });
}

export type { Logger };
