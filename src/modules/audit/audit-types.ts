import type { StaffRole } from '../../platform/http/auth.js';

export const ACCESS_REASONS = ['support_request', 'abuse_investigation', 'legal_request', 'security_incident'] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];
export type AuditOutcome = 'allowed' | 'denied' | 'failed';

export type AuditActor =
  | { kind: 'staff'; staffId: string; email: string; role: StaffRole | string }
  | { kind: 'system' };

/** What a caller hands to `audit.record`; the database assigns seq and time. */
export interface AuditEventInput {
  actor: AuditActor;
  action: string;
  outcome: AuditOutcome;
  subjectUserId?: string | null;
  resourceType?: string | null;
  resourceIds?: string[];
  reason?: string | null;
  justification?: string | null;
  requestId?: string | null;
  sourceIp?: string | null;
  userAgent?: string | null;
  detail?: string | null;
}

/** A stored event, as the chain sees it: every column, the time as text with microseconds. */
export interface AuditEvent {
  seq: number;
  occurredAt: string;
  actorKind: 'staff' | 'system';
  actorStaffId: string | null;
  actorEmail: string | null;
  actorRole: string | null;
  action: string;
  outcome: AuditOutcome;
  subjectUserId: string | null;
  resourceType: string | null;
  resourceIds: string[];
  reason: string | null;
  justification: string | null;
  requestId: string | null;
  sourceIp: string | null;
  userAgent: string | null;
  detail: string | null;
}

export interface ChainLink {
  seq: number;
  kind: 'event' | 'void';
  eventHash: Buffer;
  chainHash: Buffer;
}

export interface Checkpoint {
  id: number;
  seq: number;
  chainHash: Buffer;
  signedAt: string;
  keyFingerprint: string;
  signature: string;
}

export interface EventFilter {
  staffId?: string;
  userId?: string;
  action?: string;
  reason?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
}

export type BreakKind = 'changed' | 'missing' | 'reordered' | 'inserted' | 'signature';

export interface Verification {
  intact: boolean;
  message: string;
  intactUpTo: number;
  eventsChecked: number;
  checkpointsChecked: number;
  unsealed: number;
  anchor: { seq: number; checkpointId: number } | null;
  break: { seq: number; kind: BreakKind; detail: string } | null;
  durationMs: number;
}
