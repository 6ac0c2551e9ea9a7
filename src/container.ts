// Composition root: builds the platform, then each module from its register function. The API,
// the workers, the scheduler and the CLI all start from here, so they share one wiring.
import type { Config } from './config.js';
import { closePlatform, createPlatform, type ModuleRegistration, type Platform } from './platform/platform.js';
import { loadOpenApi, type OpenApiDocument } from './platform/http/openapi.js';
import type { Logger } from './platform/logger.js';
import { registerAccounts } from './modules/accounts/accounts-module.js';
import { registerChat } from './modules/chat/chat-module.js';
import { registerAudit } from './modules/audit/audit-module.js';
import { registerPrivacy } from './modules/privacy/privacy-module.js';
import { registerBackups } from './modules/backups/backups-module.js';
import { registerRelay } from './modules/relay/relay-module.js';
import { registerTrust } from './modules/trust/trust-module.js';
import { createAssistantTokens, registerAssistant } from './modules/assistant/assistant-module.js';

export interface Container {
  platform: Platform;
  document: OpenApiDocument;
  modules: ModuleRegistration[];
  accounts: ReturnType<typeof registerAccounts>['service'];
  chat: ReturnType<typeof registerChat>['service'];
  audit: ReturnType<typeof registerAudit>['service'];
  privacy: ReturnType<typeof registerPrivacy>['service'];
  backups: ReturnType<typeof registerBackups>['service'];
  relay: ReturnType<typeof registerRelay>['service'];
  trust: ReturnType<typeof registerTrust>['service'];
  assistant: ReturnType<typeof registerAssistant>['service'];
  close(): Promise<void>;
}

export function createContainer(config: Config, logger?: Logger): Container {
  const platform = createPlatform(config, logger);
  // In dependency order: a module receives the services it calls, never another module's tables.
  const accounts = registerAccounts(platform);
  const chat = registerChat(platform);
  const audit = registerAudit(platform, accounts.service, chat.service);
  // Privacy asks every module (itself included) for its share of a user's data, hence the thunk.
  const privacy = registerPrivacy(platform, accounts.service, () => modules, audit.service);
  const backups = registerBackups(platform);
  // The user's own provider tokens: the relay's credential resolution asks them first.
  const assistantStore = createAssistantTokens(platform);
  const relay = registerRelay(platform, chat.service, audit.service, assistantStore.tokens.tokenFor);
  // knowledge: the knowledge module's search, once it exists (smart-folder context in completions).
  const assistant = registerAssistant(platform, { store: assistantStore, chat: chat.service, relay: relay.service, providers: relay.providerLayer });
  const document = loadOpenApi();
  const trust = registerTrust(platform, { document, backups: backups.service, accounts: accounts.service, audit: audit.service, relay: relay.service });
  const modules: ModuleRegistration[] = [
    accounts.registration, chat.registration, audit.registration, privacy.registration, backups.registration,
    relay.registration, trust.registration, assistant.registration,
  ];
  return {
    platform,
    document,
    modules,
    accounts: accounts.service,
    chat: chat.service,
    audit: audit.service,
    privacy: privacy.service,
    backups: backups.service,
    relay: relay.service,
    trust: trust.service,
    assistant: assistant.service,
    // Relay settlements are written after the answer leaves: finish them before the pools close.
    close: async () => {
      await relay.service.close();
      await closePlatform(platform);
    },
  };
}
