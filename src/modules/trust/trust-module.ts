// Wires the trust centre from the platform and the services it reads: backups (last runs),
// audit (chain head, verification, and the record of every staff change), and optionally the
// relay (log age, providers), which may not be installed.
import type { OpenApiDocument } from '../../platform/http/openapi.js';
import type { ModuleRegistration, Platform } from '../../platform/platform.js';
import type { AccountsService } from '../accounts/accounts-service.js';
import type { AuditService } from '../audit/audit-service.js';
import type { BackupsService } from '../backups/backups-service.js';
import type { RelayEvidence } from './posture.js';
import { createPublicRateLimit } from './public-rate-limit.js';
import { createTrustRepo } from './trust-repo.js';
import { trustRoutes } from './trust-routes.js';
import { createTrustService } from './trust-service.js';
import { createVulnerabilityService } from './vulnerability-service.js';
import { createIncidentsRepo } from './incidents-repo.js';
import { incidentRoutes } from './incident-routes.js';
import { createIncidentService } from './incident-service.js';
import { readFileSync } from 'node:fs';
import { createDocumentsRepo } from './documents-repo.js';
import { documentRoutes } from './documents-routes.js';
import { createDocumentsService, DEFAULT_NDA } from './documents-service.js';
import { createStampPool } from './document-stamp-pool.js';
import { renderTrustPage, TRUST_CSS } from './trust-page.js';
import { publicRoute } from './trust-routes.js';
import { createAnswersRepo } from './answers-repo.js';
import { answersRoutes } from './answers-routes.js';
import { createAnswersService } from './answers-service.js';
import { createSubprocessorsRepo } from './subprocessors-repo.js';
import { subprocessorRoutes } from './subprocessor-routes.js';
import { createSubprocessorService } from './subprocessor-service.js';

export interface TrustModuleDeps {
  document: OpenApiDocument;
  backups: Pick<BackupsService, 'list'>;
  accounts: Pick<AccountsService, 'getAccount'>;
  audit: Pick<AuditService, 'head' | 'verify' | 'record'>;
  relay?: RelayEvidence;
}

export function registerTrust(platform: Platform, deps: TrustModuleDeps) {
  const { config, db, readDb, signer, fieldCipher, redis } = platform;
  const repo = createTrustRepo(db);
  const service = createTrustService({ config, signer, repo, document: deps.document, backups: deps.backups, audit: deps.audit, relay: deps.relay });
  const vulnerabilities = createVulnerabilityService({ repo, fieldCipher, audit: deps.audit, timeZone: config.trust.timeZone });
  const incidents = createIncidentService({ repo: createIncidentsRepo(db), accounts: deps.accounts, audit: deps.audit, queues: platform.queues });
  const subprocessors = createSubprocessorService({
    repo: createSubprocessorsRepo(db, readDb), audit: deps.audit, fieldCipher, pepper: config.apiKeyPepper, noticeDays: config.trust.subprocessorNoticeDays, publicUrl: config.publicUrl,
  });
  const documents = createDocumentsService({
    repo: createDocumentsRepo(db, readDb), artifacts: platform.artifacts, fieldCipher, audit: deps.audit, autoApproveDomains: config.trust.autoApproveDomains,
    grantHours: config.trust.grantHours, ndaText: config.trust.ndaFile ? readFileSync(config.trust.ndaFile, 'utf8') : DEFAULT_NDA, publicUrl: config.publicUrl,
    stamper: createStampPool(),
  });
  const answers = createAnswersService({ repo: createAnswersRepo(db), audit: deps.audit, posture: () => service.signedPosture() });
  const rateLimit = createPublicRateLimit(redis, config.queuePrefix, config.trust.rateLimitPerMinute);
  const registration: ModuleRegistration = {
    name: 'trust',
    routes: {
      ...trustRoutes({ trust: service, vulnerabilities, rateLimit, publicUrl: config.publicUrl, postureCacheSeconds: config.trust.postureCacheSeconds }),
      ...incidentRoutes(incidents),
      ...subprocessorRoutes(subprocessors, rateLimit, config.publicUrl),
      ...documentRoutes(documents, rateLimit, config.uploadLimitBytes),
      ...answersRoutes(answers, deps.audit, config.uploadLimitBytes),
      getTrustPage: publicRoute(rateLimit, 60, async (_req, res) => {
        const [signed, subs, docs] = await Promise.all([service.signedPosture(), subprocessors.publicList(), documents.list()]);
        res.type('html').send(renderTrustPage({
          claims: signed.posture.claims, generatedAt: signed.posture.generatedAt, signature: signed.signature,
          subprocessors: subs.current, upcoming: subs.upcoming, documents: docs, securityContacts: config.trust.securityTxt.contact, noticeDays: subprocessors.noticeDays,
        }));
      }),
      getTrustOverview: publicRoute(rateLimit, 60, async (_req, res) => {
        const [signed, subs, docs] = await Promise.all([service.signedPosture(), subprocessors.publicList(), documents.list()]);
        const claims = { ok: 0, stale: 0, missing: 0, not_applicable: 0 };
        for (const c of signed.posture.claims) claims[c.status] += 1;
        res.json({
          claims, subprocessors: subs.current.length, documents: docs.length,
          links: {
            page: '/trust', posture: '/api/v1/trust/posture', signingKey: '/api/v1/signing-key', subprocessors: '/api/v1/trust/subprocessors',
            subprocessorFeed: '/api/v1/trust/subprocessors/feed', documents: '/api/v1/trust/documents', vulnerabilityReports: '/api/v1/trust/vulnerability-reports',
            acknowledgements: '/api/v1/trust/acknowledgements', securityTxt: '/.well-known/security.txt',
          },
        });
      }),
      getTrustStylesheet: publicRoute(rateLimit, 3600, (_req, res) => {
        res.type('text/css; charset=utf-8').send(TRUST_CSS);
      }),
    },
  };
  return { service: { ...service, vulnerabilities, incidents, subprocessors, documents, answers }, registration };
}
