// /.well-known/security.txt (RFC 9116). Built from configuration on each request, so Expires is
// always renewed ahead (§2.5.5: "less than a year into the future" is recommended) and never
// lapses on a long-running instance.
import type { Config } from '../../config.js';

export function securityTxt(config: Pick<Config, 'publicUrl'> & { trust: Pick<Config['trust'], 'securityTxt'> }, now = new Date()): string | null {
  const s = config.trust.securityTxt;
  if (!s.contact.length) return null;
  const base = config.publicUrl?.replace(/\/+$/, '');
  const expires = new Date(now.getTime() + s.expiresDays * 86_400_000);
  expires.setUTCMilliseconds(0);
  const lines: string[] = [];
  for (const contact of s.contact) lines.push(`Contact: ${contact}`);
  lines.push(`Expires: ${expires.toISOString().replace('.000Z', 'Z')}`);
  if (s.encryptionUrl) lines.push(`Encryption: ${s.encryptionUrl}`);
  const policy = s.policyUrl ?? (base ? `${base}/trust#report` : undefined);
  if (policy) lines.push(`Policy: ${policy}`);
  const acknowledgments = s.acknowledgmentsUrl ?? (base ? `${base}/api/v1/trust/acknowledgements` : undefined);
  if (acknowledgments) lines.push(`Acknowledgments: ${acknowledgments}`);
  if (s.languages.length) lines.push(`Preferred-Languages: ${s.languages.join(', ')}`);
  // Canonical only from configuration: a URL built from the Host header could be poisoned into caches.
  if (base) lines.push(`Canonical: ${base}/.well-known/security.txt`);
  return `${lines.join('\n')}\n`;
}
