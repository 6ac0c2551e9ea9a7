// Composition root: builds the platform, then each module from its register function. The API,
// the workers, the scheduler and the CLI all start from here, so they share one wiring.
import type { Config } from './config.js';
import { closePlatform, createPlatform, type ModuleRegistration, type Platform } from './platform/platform.js';
import { loadOpenApi, type OpenApiDocument } from './platform/http/openapi.js';
import type { Logger } from './platform/logger.js';
import { registerAccounts } from './modules/accounts/accounts-module.js';

export interface Container {
  platform: Platform;
  document: OpenApiDocument;
  modules: ModuleRegistration[];
  accounts: ReturnType<typeof registerAccounts>['service'];
  close(): Promise<void>;
}

export function createContainer(config: Config, logger?: Logger): Container {
  const platform = createPlatform(config, logger);
  const accounts = registerAccounts(platform);
  const modules: ModuleRegistration[] = [accounts.registration];
  return {
    platform,
    document: loadOpenApi(),
    modules,
    accounts: accounts.service,
    close: () => closePlatform(platform),
  };
}
