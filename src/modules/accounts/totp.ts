// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), through the otpauth library. We accept one step of
// clock drift either way (RFC 6238 §5.2) and return the matched step, so the caller can refuse
// a step that was used already.
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD = 30;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

function totpFor(secretBase32: string, label = '', issuer = '') {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret: Secret.fromBase32(secretBase32) });
}

export function otpauthUri(secretBase32: string, issuer: string, accountEmail: string): string {
  return totpFor(secretBase32, accountEmail, issuer).toString();
}

/** The time step the code belongs to, or null when it matches none in the window. */
export function matchTotpStep(secretBase32: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpFor(secretBase32).validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  return Math.floor(now / 1000 / TOTP_PERIOD) + delta;
}
