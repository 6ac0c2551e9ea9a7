// Wires the chat domain (chats, messages, files, smart folders, assistants, transactions) from
// the platform. Its service is keyed by user id throughout, for routes and for staff tools alike.
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import { createChatLibraryRepo } from './chat-library-repo.js';
import { createChatLibraryService } from './chat-library-service.js';
import { createExtractionPool } from './chat-extraction-pool.js';
import { CHAT_MODULE_NAME, chatPersonalData } from './chat-personal-data.js';
import { createChatRepo } from './chat-repo.js';
import { chatRoutes } from './chat-routes.js';
import { seedChatDemo } from './chat-seed.js';
import { createChatService } from './chat-service.js';

export function registerChat(platform: Platform) {
  const { db, readDb, keyStore, fieldCipher, artifacts, config, logger } = platform;
  const chatRepo = createChatRepo(db, fieldCipher, readDb);
  const libraryRepo = createChatLibraryRepo(db, fieldCipher, readDb);
  const chats = createChatService({ repo: chatRepo });
  const { concurrency, queueLength, ...limits } = config.extraction;
  const extraction = createExtractionPool({ limits, concurrency, queueLength, logger });
  const library = createChatLibraryService({
    repo: libraryRepo,
    chats: chatRepo,
    artifacts,
    fieldCipher,
    extraction,
    uploadLimitBytes: config.uploadLimitBytes,
    logger,
  });
  // One flat service: chat.listChats(userId, page), chat.listMessages(userId, chatId, page),
  // chat.listFiles, chat.listSmartFolders, chat.listAssistants, chat.listTransactions, chat.recordTransaction, …
  const service = { ...chats, ...library };
  const registration: ModuleRegistration = {
    name: CHAT_MODULE_NAME,
    routes: chatRoutes(chats, library, config.uploadLimitBytes),
    personalData: chatPersonalData({ chats: chatRepo, keyById: keyStore.keyById, library: libraryRepo, readOriginal: library.readOriginal, artifacts }),
    seed: (demo) => seedChatDemo(service, demo),
  };
  return { service, registration, repo: chatRepo };
}

export type ChatModuleService = ReturnType<typeof registerChat>['service'];
