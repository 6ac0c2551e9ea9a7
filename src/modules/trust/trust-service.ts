// The public face of the trust centre: the signed posture (cached briefly), security.txt, and the
// evidence runs the posture cites. Vulnerability reports, incidents and the rest have their own
// services beside this one.
import type { Config } from '../../config.js';
import type { Signer } from '../../platform/crypto/signing.js';
import type { AuditService } from '../audit/audit-service.js';
import { computePosture, type Posture, type PostureDeps } from './posture.js';
import { securityTxt } from './security-txt.js';
import type { TrustRepo } from './trust-repo.js';

export interface SignedPosture {
  /** The exact bytes that were signed: `JSON.stringify(posture)`. */
  text: string;
  posture: Posture;
  /** Base64 Ed25519 signature over `text`. */
  signature: string;
  expiresAt: number;
}

type Deps = PostureDeps & {
  config: PostureDeps['config'] & Pick<Config, 'publicUrl' | 'trust'>;
  signer: Pick<Signer, 'sign'>;
  audit: Pick<AuditService, 'head' | 'verify'>;
  repo: Pick<TrustRepo, 'encryptedColumns' | 'latestEvidence' | 'recordEvidence'>;
};

export function createTrustService(deps: Deps) {
  const cacheMs = deps.config.trust.postureCacheSeconds * 1000;
  let cached: SignedPosture | undefined;
  let computing: Promise<SignedPosture> | undefined;

  async function sign(): Promise<SignedPosture> {
    const posture = await computePosture(deps);
    const text = JSON.stringify(posture);
    return { text, posture, signature: deps.signer.sign(text), expiresAt: Date.now() + cacheMs };
  }

  return {
    /** The posture, signed; recomputed at most once per cache period per process (concurrent callers share one run). */
    async signedPosture(): Promise<SignedPosture> {
      if (cached && cached.expiresAt > Date.now()) return cached;
      computing ??= sign().then((result) => {
        cached = result;
        return result;
      }).finally(() => {
        computing = undefined;
      });
      return computing;
    },

    /** Drops the cached posture (after evidence changes, so the next read shows it). */
    invalidatePosture() {
      cached = undefined;
    },

    securityTxt: (now = new Date()) => securityTxt(deps.config, now),

    /** Verifies the whole audit trail and records the outcome as posture evidence. */
    async verifyAuditTrail(): Promise<{ ok: boolean; message: string }> {
      const result = await deps.audit.verify();
      await deps.repo.recordEvidence('audit_verification', result.intact, { message: result.message, eventsChecked: result.eventsChecked, intactUpTo: result.intactUpTo });
      cached = undefined;
      return { ok: result.intact, message: result.message };
    },
  };
}

export type TrustService = ReturnType<typeof createTrustService>;
