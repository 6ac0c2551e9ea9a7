// /.well-known/security.txt, parsed the way RFC 9116 defines the format (§2.2 syntax, §2.5
// fields), from configuration, with Expires renewed ahead on every request.
import { expect } from 'chai';
import { api, isolatedApp } from '../support/app.js';
import { expectProblem } from '../support/problems.js';

/** RFC 9116 §2.2/§4 parsing: "Field: value" lines, "#" comments, blank lines; unknown fields kept. */
function parseSecurityTxt(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z0-9-]+): (.+)$/.exec(line);
    if (!match) throw new Error(`not a field line: ${JSON.stringify(line)}`);
    const name = match[1].toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), match[2]]);
  }
  return fields;
}

/** The RFC's rules a served file must satisfy; returns the problems found. */
function rfc9116Problems(fields: Map<string, string[]>, now: Date): string[] {
  const problems: string[] = [];
  const contacts = fields.get('contact') ?? [];
  if (!contacts.length) problems.push('Contact is required (§2.5.3)');
  for (const c of contacts) if (!/^(mailto:|https:\/\/|tel:)/.test(c)) problems.push(`Contact ${c} is not a mailto/https/tel URI`);
  const expires = fields.get('expires') ?? [];
  if (expires.length !== 1) problems.push('Expires must appear exactly once (§2.5.5)');
  else {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(expires[0])) problems.push('Expires must be an RFC 3339 date-time');
    const at = new Date(expires[0]).getTime();
    if (!(at > now.getTime())) problems.push('Expires is in the past');
    if (at - now.getTime() >= 365 * 86_400_000) problems.push('Expires should be less than a year ahead');
  }
  if ((fields.get('preferred-languages') ?? []).length > 1) problems.push('Preferred-Languages at most once (§2.5.8)');
  for (const uri of [...(fields.get('canonical') ?? []), ...(fields.get('policy') ?? []), ...(fields.get('acknowledgments') ?? []), ...(fields.get('encryption') ?? [])]) {
    if (!/^https:\/\//.test(uri)) problems.push(`${uri} must be an https URI (§2.5)`);
  }
  return problems;
}

describe('trust: security.txt (RFC 9116)', () => {
  const configured = isolatedApp({
    PUBLIC_URL: 'https://trust.example.test',
    CUSTOS_SECURITY_CONTACT: 'mailto:security@example.test, https://example.test/report',
    CUSTOS_SECURITY_ENCRYPTION_URL: 'https://example.test/pgp-key.asc',
    CUSTOS_SECURITY_LANGUAGES: 'en, de',
    CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_sectxt_${process.pid}`,
  });
  const withoutKey = isolatedApp({
    CUSTOS_SECURITY_CONTACT: 'mailto:security@example.test',
    CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_sectxt2_${process.pid}`,
  });
  after(async () => { await configured.close(); await withoutKey.close(); });

  it('serves a valid file as text/plain; charset=utf-8, cacheable, with every configured field', async () => {
    const before = new Date();
    const res = await configured.api().get('/.well-known/security.txt');
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/plain; charset=utf-8');
    expect(res.headers['cache-control']).to.match(/^public, max-age=\d+$/);
    const fields = parseSecurityTxt(res.text);
    expect(rfc9116Problems(fields, before)).to.deep.equal([]);
    expect(fields.get('contact')).to.deep.equal(['mailto:security@example.test', 'https://example.test/report']);
    expect(fields.get('encryption')).to.deep.equal(['https://example.test/pgp-key.asc']);
    expect(fields.get('canonical')).to.deep.equal(['https://trust.example.test/.well-known/security.txt']);
    expect(fields.get('policy')).to.deep.equal(['https://trust.example.test/trust#report']);
    expect(fields.get('acknowledgments')).to.deep.equal(['https://trust.example.test/api/v1/trust/acknowledgements']);
    expect(fields.get('preferred-languages')).to.deep.equal(['en, de']);
  });

  it('renews Expires on every request to the configured distance ahead (180 days by default)', async () => {
    const res = await configured.api().get('/.well-known/security.txt').expect(200);
    const expires = new Date(parseSecurityTxt(res.text).get('expires')![0]).getTime();
    expect(Math.abs(expires - (Date.now() + 180 * 86_400_000))).to.be.lessThan(60_000);
  });

  it('leaves Encryption and Canonical out when no key URL and no public URL are configured', async () => {
    const res = await withoutKey.api().get('/.well-known/security.txt').expect(200);
    const fields = parseSecurityTxt(res.text);
    expect(rfc9116Problems(fields, new Date())).to.deep.equal([]);
    expect(fields.has('encryption')).to.equal(false);
    expect(fields.has('canonical')).to.equal(false);
  });

  it('answers 404 (a problem naming the variable) while no contact is configured', async () => {
    const body = expectProblem(await api().get('/.well-known/security.txt'), 404);
    expect(String(body.detail)).to.contain('CUSTOS_SECURITY_CONTACT');
  });
});
