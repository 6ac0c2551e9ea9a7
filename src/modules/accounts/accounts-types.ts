import type { StaffRole } from '../../platform/http/auth.js';

/** Users and staff share credentials logic; the kind picks the table. */
export type AccountKind = 'user' | 'staff';

export interface Account {
  kind: AccountKind;
  id: string;
  email: string;
  passwordHash: string;
  totpSecretEnc: Buffer | null;
  totpConfirmedAt: Date | null;
  totpLastStep: number | null;
  createdAt: Date;
  /** users only */
  status?: 'active' | 'locked' | 'pending_deletion';
  /** staff only */
  role?: StaffRole;
  disabledAt?: Date | null;
}

/** An account without its secrets (password hash, TOTP secret and step): what a session lookup keeps and hands on. */
export type AccountProfile = Omit<Account, 'passwordHash' | 'totpSecretEnc' | 'totpLastStep'>;

export type SecondFactor = 'none' | 'totp' | 'recovery_code';
/** What a session proved, in sessions.factors: always the password, then perhaps a second factor. */
export type SessionFactor = 'password' | 'totp' | 'recovery_code';

/** What is encrypted in sessions.data_enc. */
export interface SessionData {
  userAgent: string | null;
  ip: string | null;
  secondFactor: SecondFactor;
}

export interface SessionRecord {
  id: string;
  ownerKind: AccountKind;
  ownerId: string;
  dataEnc: Buffer;
  factors: SessionFactor[];
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

export interface SessionView extends SessionData {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  current: boolean;
}

/** What authorizing a request needs to know of a session's owner. */
export interface SessionOwner {
  id: string;
  email: string;
  totpConfirmed: boolean;
  disabled: boolean;
  status?: Account['status'];
  role?: Account['role'];
}
