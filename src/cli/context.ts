// What every CLI command needs: the configuration (with development secrets where allowed), a
// container opened on demand and closed when the command ends, and progress output.
import { existsSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { createContainer, type Container } from '../container.js';
import { loadOrCreateDevSecrets, parseEnvFile } from '../platform/dev-secrets.js';
import { createLogger } from '../platform/logger.js';
import { readFileSync } from 'node:fs';

export interface CliContext {
  config(options?: { generateDevSecrets?: boolean }): Config;
  open(): Promise<Container>;
  /** Service roles (serve, worker, scheduler, dev) log to stdout; every other command to stderr. */
  logToStdout(): void;
  close(): Promise<void>;
  progress(label: string, total: number): { increment(n?: number): void; setTotal(n: number): void; stop(): void };
}

export function createCliContext(): CliContext {
  let config: Config | undefined;
  let container: Container | undefined;
  let logFd: 1 | 2 = 2;
  return {
    logToStdout() { logFd = 1; },
    config({ generateDevSecrets = false } = {}) {
      if (config) return config;
      const env = process.env;
      const devFile = env.CUSTOS_DEV_SECRETS_FILE ?? '.custos/dev-secrets.env';
      let devSecrets: Record<string, string> = {};
      let created = false;
      if ((env.NODE_ENV ?? 'development') !== 'production') {
        if (generateDevSecrets) ({ secrets: devSecrets, created } = loadOrCreateDevSecrets(devFile));
        else if (existsSync(devFile)) devSecrets = parseEnvFile(readFileSync(devFile, 'utf8'));
      }
      config = loadConfig(env, devSecrets);
      if (config.generatedSecrets.length) {
        process.stderr.write(`custos: using development secrets from ${devFile}${created ? ' (just generated, mode 0600)' : ''} for ${config.generatedSecrets.join(', ')}. Never use them in production.\n`);
      }
      return config;
    },
    async open() {
      container ??= createContainer(this.config(), createLogger(this.config().logLevel, logFd));
      return container;
    },
    async close() {
      await container?.close();
      container = undefined;
    },
    progress(label, total) {
      // Progress goes to stderr so stdout stays parseable; plain lines when not a terminal.
      if (!process.stderr.isTTY) {
        let done = 0;
        let lastPrinted = 0;
        return {
          increment(n = 1) {
            done += n;
            if (done - lastPrinted >= Math.max(1, total / 20) || done === total) {
              lastPrinted = done;
              process.stderr.write(`${label}: ${done}/${total}\n`);
            }
          },
          setTotal(n) { total = n; },
          stop() {},
        };
      }
      const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} eta {eta}s`, stream: process.stderr }, Presets.shades_classic);
      bar.start(total, 0);
      return { increment: (n = 1) => bar.increment(n), setTotal: (n) => bar.setTotal(n), stop: () => bar.stop() };
    },
  };
}

export function describeError(error: unknown): string {
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  const e = error as { detail?: string; message?: string };
  return e.detail ?? e.message ?? String(error);
}
