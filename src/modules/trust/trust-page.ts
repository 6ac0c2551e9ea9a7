// GET /trust: the public trust page, rendered on the server from the same services as the API.
// No script at all and no external asset (one same-origin stylesheet), so it works under the
// app's Content-Security-Policy (default-src 'self') and in a browser with JavaScript off.
import type { Claim } from './posture.js';
import type { TrustDocument } from './documents-repo.js';
import type { Subprocessor, SubprocessorChange } from './subprocessors-repo.js';

const esc = (s: unknown) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const date = (d: Date) => d.toISOString().slice(0, 10);
const STATUS_LABEL: Record<Claim['status'], string> = { ok: 'Verified', stale: 'Stale evidence', missing: 'No evidence', not_applicable: 'Not applicable' };

export const TRUST_CSS = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #dde2ea; --ok: #1c7c3a; --warn: #a15c00; --bad: #b42318; --na: #5b6475; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f7f8fa; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 1.25rem; }
header { border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 .25rem; font-size: 1.9rem; }
h2 { margin-top: 2rem; font-size: 1.35rem; }
p.lead { color: var(--muted); margin: 0; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; vertical-align: top; padding: .55rem .7rem; border-bottom: 1px solid var(--line); }
th { background: #eef1f6; font-weight: 600; }
td:first-child code { word-break: normal; white-space: nowrap; }
code { font: .85em ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef1f6; padding: .05rem .3rem; border-radius: 3px; word-break: break-all; }
.status { font-weight: 600; white-space: nowrap; }
.status-ok { color: var(--ok); } .status-stale { color: var(--warn); } .status-missing { color: var(--bad); } .status-not_applicable { color: var(--na); }
.note { color: var(--muted); font-size: .9rem; }
pre { background: #fff; border: 1px solid var(--line); padding: .8rem; overflow-x: auto; }
`;

export interface TrustPageData {
  claims: Claim[];
  generatedAt: string;
  signature: string;
  subprocessors: Subprocessor[];
  upcoming: SubprocessorChange[];
  documents: TrustDocument[];
  securityContacts: string[];
  noticeDays: number;
}

export function renderTrustPage(d: TrustPageData): string {
  const claimRows = d.claims.map((c) => `<tr><td><code>${esc(c.id)}</code></td><td>${esc(c.statement)}</td><td class="status status-${esc(c.status)}">${esc(STATUS_LABEL[c.status])}</td></tr>`).join('');
  const subRows = d.subprocessors.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.purpose)}</td><td>${esc(s.location)}</td><td>${esc(s.dataCategories.join(', '))}</td><td>${esc(date(s.effectiveAt))}</td></tr>`).join('')
    || '<tr><td colspan="5">No sub-processors are listed.</td></tr>';
  const upcoming = d.upcoming.length
    ? `<h3>Announced changes</h3><ul>${d.upcoming.map((c) => `<li>${esc(c.summary)} Effective ${esc(date(c.effectiveAt))}.</li>`).join('')}</ul>`
    : '';
  const docRows = d.documents.map((doc) => `<tr><td>${esc(doc.title)}</td><td>${esc(doc.description)}</td><td>${doc.visibility === 'public'
    ? `<a href="/api/v1/trust/documents/${esc(doc.id)}/download">Download</a>`
    : `Restricted: request access with <code>POST /api/v1/trust/documents/${esc(doc.id)}/access-requests</code>, then accept the NDA`}</td></tr>`).join('')
    || '<tr><td colspan="3">No documents are published yet.</td></tr>';
  const contacts = d.securityContacts.length ? d.securityContacts.map((c) => `<code>${esc(c)}</code>`).join(', ') : 'see <a href="/.well-known/security.txt">security.txt</a>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust centre</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/trust/trust.css"></head>
<body>
<header><h1>Trust centre</h1><p class="lead">Every statement below is computed from the running service and signed; none is typed in by hand.</p></header>
<main>
<section id="posture"><h2>Security posture</h2>
<table><thead><tr><th>Claim</th><th>Statement</th><th>Evidence</th></tr></thead><tbody>${claimRows}</tbody></table>
<p class="note">Evaluated ${esc(d.generatedAt)}. Verify it yourself: the signed JSON is at <a href="/api/v1/trust/posture">/api/v1/trust/posture</a> (Ed25519, key at <a href="/api/v1/signing-key">/api/v1/signing-key</a>).</p>
</section>
<section id="subprocessors"><h2>Sub-processors</h2>
<table><thead><tr><th>Name</th><th>Purpose</th><th>Location</th><th>Data</th><th>Since</th></tr></thead><tbody>${subRows}</tbody></table>
${upcoming}
<p class="note">Changes are announced ${esc(d.noticeDays)} days ahead. Follow them in the <a href="/api/v1/trust/subprocessors/feed">Atom feed</a> or subscribe with <code>POST /api/v1/trust/subscriptions {"email": "…"}</code>.</p>
</section>
<section id="documents"><h2>Documents</h2>
<table><thead><tr><th>Document</th><th>About</th><th>Access</th></tr></thead><tbody>${docRows}</tbody></table>
</section>
<section id="report"><h2>Report a vulnerability</h2>
<p>Contact: ${contacts}. We acknowledge every report within 24 hours and give you a timeline within 5 business days; with your permission we credit you on our <a href="/api/v1/trust/acknowledgements">acknowledgements</a> once it is fixed and disclosed.</p>
<pre>curl -X POST /api/v1/trust/vulnerability-reports -H 'Content-Type: application/json' \\
  -d '{"title": "…", "description": "steps to reproduce, impact", "email": "you@example.com", "credit": "Your Name"}'</pre>
<p class="note">The answer gives your deadlines and a private status link. The description and your email are encrypted at rest.</p>
</section>
</main>
<footer class="note">Signature of this posture: <code>${esc(d.signature.slice(0, 24))}…</code></footer>
</body></html>
`;
}
