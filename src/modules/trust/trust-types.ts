// The trust domain's types.
export const VULNERABILITY_STATES = ['received', 'acknowledged', 'triaged', 'fixed', 'disclosed', 'rejected'] as const;
export type VulnerabilityState = (typeof VULNERABILITY_STATES)[number];

/** A stored report; description and email stay encrypted until the service opens them. */
export interface VulnerabilityReportRow {
  id: string;
  title: string;
  descriptionEnc: Buffer;
  emailEnc: Buffer;
  pgpEncrypted: boolean;
  credit: string | null;
  state: VulnerabilityState;
  receivedAt: Date;
  acknowledgedAt: Date | null;
  triagedAt: Date | null;
  fixedAt: Date | null;
  disclosedAt: Date | null;
  rejectedAt: Date | null;
  updatedAt: Date;
}
