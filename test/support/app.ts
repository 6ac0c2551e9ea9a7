// One container and Express app per test run, built from the test environment.
import type { Express } from 'express';
import { rmSync } from 'node:fs';
import supertest from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import type { Logger } from '../../src/platform/logger.js';

let container: Container | undefined;
let app: Express | undefined;

export function testContainer(): Container {
  if (!container) {
    const config = loadConfig(process.env);
    rmSync(config.artifactDir, { recursive: true, force: true });
    container = createContainer(config);
  }
  return container;
}

export function testApp(): Express {
  app ??= createApp(testContainer());
  return app;
}

export const api = () => supertest(testApp());

export async function closeTestApp(): Promise<void> {
  if (container) {
    const { redis, config } = container.platform;
    const keys = await redis.keys(`${config.queuePrefix}:*`).catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys).catch(() => {});
    await container.close();
  }
  container = undefined;
  app = undefined;
}

/**
 * A separate container and app built from the test environment plus `overrides`, for tests that
 * need other limits, keys or a dependency pointing at a closed port. Close it in an `after` hook.
 */
export function isolatedApp(overrides: Record<string, string>, logger?: Logger) {
  const config = loadConfig({ ...process.env, ...overrides });
  const own = createContainer(config, logger);
  const ownApp = createApp(own);
  return {
    container: own,
    app: ownApp,
    api: () => supertest(ownApp),
    async close() {
      // A client pointed at a closed port never connects; disconnect instead of waiting on QUIT.
      own.platform.redis.disconnect();
      own.platform.queueConnection.disconnect();
      await own.close();
    },
  };
}
