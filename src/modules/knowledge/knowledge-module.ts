// Wires the smart-folder knowledge base: its repo and service, the chat module's "file added to a
// folder" notification, the user and staff routes, and the user's share of the export.
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { AuditService } from '../audit/audit-service.js';
import { auditedAccess } from '../audit/staff-access-routes.js';
import type { ChatModuleService } from '../chat/chat-module.js';
import type { Embedder } from '../relay/relay-embeddings.js';
import { createCiphertextCache } from './knowledge-cache.js';
import { knowledgePersonalData } from './knowledge-personal-data.js';
import { createKnowledgeRepo } from './knowledge-repo.js';
import { knowledgeRoutes } from './knowledge-routes.js';
import { createKnowledgeService } from './knowledge-service.js';

type Chat = Pick<ChatModuleService, 'getSmartFolder' | 'getFileText' | 'folderFileMembers' | 'onFolderFileAdded'>;

export function registerKnowledge(platform: Platform, chat: Chat, embedder: Pick<Embedder, 'embedTexts'>, audit: Pick<AuditService, 'record' | 'recordedRead'>) {
  const { db, fieldCipher, queues, config, logger } = platform;
  const repo = createKnowledgeRepo(db, fieldCipher);
  const service = createKnowledgeService({
    repo,
    chat,
    embedder,
    queues,
    cache: createCiphertextCache(config.knowledge.cacheMb * 1024 * 1024),
    settings: config.knowledge,
    logger,
  });
  chat.onFolderFileAdded(service.fileAdded);
  const registration: ModuleRegistration = {
    name: 'knowledge',
    routes: knowledgeRoutes(service, auditedAccess(audit)),
    personalData: knowledgePersonalData(repo),
  };
  return { service, registration };
}

export type KnowledgeModuleService = ReturnType<typeof registerKnowledge>['service'];
