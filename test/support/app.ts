// One container and Express app per test run, built from the test environment.
import type { Express } from 'express';
import { rmSync } from 'node:fs';
import supertest from 'supertest';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';

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
