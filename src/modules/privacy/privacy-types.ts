// Data-subject requests: one row per export (GDPR Art. 15/20) or deletion (Art. 17).
export type RequestType = 'export' | 'deletion';
export type RequestState = 'received' | 'scheduled' | 'processing' | 'completed' | 'failed' | 'cancelled' | 'expired';
export const UNFINISHED_STATES: RequestState[] = ['received', 'scheduled', 'processing'];

export interface ExportProgress {
  phase?: 'collections' | 'files' | 'encrypting' | 'done';
  rows?: number;
  files?: number;
  plaintextBytes?: number;
}

export interface DeletionProgress {
  phase?: 'exports' | 'rows' | 'artifacts' | 'finalising' | 'done';
  /** "table.column" -> rows deleted so far; recorded in the same transaction as each batch. */
  counts?: Record<string, number>;
  artifacts?: number;
}

export interface PrivacyRequest {
  id: string;
  userId: string;
  type: RequestType;
  state: RequestState;
  attempts: number;
  lastError: string | null;
  /** Ciphertext only; the plaintext passphrase exists in memory while the job runs. */
  passphraseEnc: Buffer | null;
  publicKey: string | null;
  scheduledFor: Date | null;
  dueAt: Date;
  progress: ExportProgress & DeletionProgress;
  artifactKey: string | null;
  artifactBytes: number | null;
  plaintextBytes: number | null;
  expiresAt: Date | null;
  receipt: string | null;
  receiptSignature: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  cancelledAt: Date | null;
  /** The worker holding (or that last held) the request, and until when; see privacy-repo claim(). */
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

/** A column referencing users(id), found from the catalogue at run time. */
export interface UserReference {
  table: string;
  column: string;
}

/** The signed statement a user receives once their account is erased. */
export interface DeletionReceipt {
  version: 1;
  requestId: string;
  subject: string;
  requestedAt: string;
  scheduledFor: string | null;
  completedAt: string;
  deletedRows: Record<string, number>;
  deletedArtifacts: number;
  dataKeyDestroyed: boolean;
  verification: { checkedAt: string; tables: Record<string, number>; passed: boolean };
  retained: string[];
}
