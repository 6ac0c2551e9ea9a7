// A deterministic, varied questionnaire corpus for the benchmark: 100 hand-written library
// questions about distinct controls (the way a SIG Lite / CAIQ / vendor review asks them), each in
// three scopes (which is how real libraries grow: "…encrypted at rest?" and "…encrypted at rest
// in backups?"), with answers of realistic length. The customer's workbook asks in its own words:
// a third verbatim (renumbered, different case and punctuation), about 60% paraphrased (synonyms,
// another sentence frame), and every tenth question about something the library does not cover.
// The earlier corpus was one template ("Question N: describe your controls for X in area N?"),
// under which every library entry shares most trigrams with every asked question.

const BASE: Array<[question: string, answer: string]> = [
  ['Is customer data encrypted at rest?', 'Yes. Customer content is encrypted with AES-256-GCM under per-user data keys held outside the database.'],
  ['Is customer data encrypted in transit over public networks?', 'Yes. TLS 1.2 or later is required on every public endpoint; HSTS is enabled with a one-year max-age.'],
  ['How are user passwords stored?', 'Passwords are hashed with bcrypt at cost 12 or more; plaintext passwords are never stored or logged.'],
  ['Do you enforce multi-factor authentication for staff?', 'Yes. Every staff account must confirm a TOTP factor before it can reach any administrative route.'],
  ['How often are backups taken?', 'Nightly encrypted backups, with point-in-time recovery for the preceding seven days.'],
  ['Are backup restores tested regularly?', 'Yes. Each backup is verified by an automated test restore and the result is published in our posture.'],
  ['How long are backups retained?', 'Backups are kept for 35 days and then destroyed with their encryption keys.'],
  ['Do you have a documented incident response plan?', 'Yes. The plan names roles, severity levels and the 24-hour customer notification promise; it is exercised twice a year.'],
  ['Within what time do you notify customers of a personal data breach?', 'Within 24 hours of becoming aware of it; supervisory authorities within 72 hours as GDPR Article 33 requires.'],
  ['Do you run a vulnerability disclosure programme?', 'Yes. Reports are acknowledged within 24 hours and given a remediation timeline within five business days; reporters are credited.'],
  ['Is a security.txt file published?', 'Yes, at /.well-known/security.txt following RFC 9116, renewed automatically before it expires.'],
  ['Do you use sub-processors to process customer data?', 'Yes. The current list, with purposes and locations, is public, and changes are announced 30 days ahead.'],
  ['How do you notify customers about new sub-processors?', 'Subscribers receive an email notice when a change is announced and again when it takes effect; an Atom feed is also available.'],
  ['Where is customer data physically hosted?', 'In data centres in the European Union (Frankfurt and Dublin); no customer data is stored elsewhere.'],
  ['How long do you retain customer data after termination?', 'Customer data is deleted within 30 days of termination and purged from backups when they expire.'],
  ['Can customers export all of their data?', 'Yes. A self-service export produces a complete archive in open formats within minutes.'],
  ['How do you handle data subject access requests?', 'Users export their data themselves; requests sent to privacy staff are answered within one month.'],
  ['Are production systems logged and monitored centrally?', 'Yes. Application and infrastructure logs are shipped to a central store and alert rules page the on-call engineer.'],
  ['Are audit logs protected against tampering?', 'Yes. Staff actions are written to a hash-chained audit trail that is verified every hour.'],
  ['How long are security logs retained?', 'Security and audit logs are retained for 400 days.'],
  ['Who can access production databases?', 'Only on-call engineers, through just-in-time access that is approved, time-limited and audited.'],
  ['How often are user access rights reviewed?', 'Access rights are reviewed quarterly by each system owner and the review is recorded.'],
  ['How quickly is access revoked when an employee leaves?', 'All access is revoked on the last working day, automated from the HR system.'],
  ['Do you perform background checks on employees?', 'Yes, where local law permits, before employment starts and for every role with production access.'],
  ['Do employees receive security awareness training?', 'Yes. Training at onboarding and every year after, with phishing simulations each quarter.'],
  ['Are employees bound by confidentiality agreements?', 'Yes. Every employee and contractor signs a confidentiality agreement before getting access.'],
  ['How are encryption keys managed?', 'Keys live in a dedicated key store outside the database, are rotated yearly and access to them is audited.'],
  ['Are encryption keys rotated?', 'Key-encryption keys are rotated every year and data keys can be re-wrapped without downtime.'],
  ['Do you conduct annual penetration tests?', 'Yes. An independent firm tests the application and infrastructure every year; a summary is available under NDA.'],
  ['How are vulnerabilities in dependencies tracked?', 'Automated dependency scanning runs on every commit; critical findings block the release.'],
  ['What is your patching policy for critical vulnerabilities?', 'Critical vulnerabilities are patched within 7 days, high ones within 30 days.'],
  ['Do you have a secure software development lifecycle?', 'Yes. Threat modelling for new features, mandatory code review, automated tests and static analysis before merge.'],
  ['Is source code reviewed before it is deployed?', 'Yes. Every change needs an approving review from a second engineer and passing checks before it can be merged.'],
  ['How are changes to production controlled?', 'Through version-controlled, reviewed deployments; emergency changes are reviewed after the fact within one business day.'],
  ['Are development and production environments separated?', 'Yes. Separate accounts and networks; production data is never copied into development.'],
  ['Is test data anonymised?', 'Tests use synthetic data only; production data is never used for testing.'],
  ['Do you have a business continuity plan?', 'Yes. It covers the loss of a region, of a key supplier and of key staff, and is tested yearly.'],
  ['What are your recovery time and recovery point objectives?', 'RTO of 4 hours and RPO of 15 minutes for the production service.'],
  ['Is the service hosted in more than one availability zone?', 'Yes. Every tier runs in at least two availability zones with automatic failover.'],
  ['What uptime do you commit to?', 'We commit to 99.9% monthly availability, with service credits defined in the agreement.'],
  ['Is there a public status page?', 'Yes, showing current incidents and the history of the last 90 days.'],
  ['How is physical security of the data centres ensured?', 'Our hosting providers hold ISO 27001 and SOC 2 reports covering guarded, badge-controlled facilities.'],
  ['Do employees work on company-managed laptops?', 'Yes. Laptops are centrally managed, with full-disk encryption, screen lock and automatic updates enforced.'],
  ['Is full-disk encryption enforced on endpoints?', 'Yes. Device management refuses access to devices without full-disk encryption.'],
  ['Is anti-malware software installed on workstations?', 'Yes. Endpoint detection and response runs on every workstation and reports to the security team.'],
  ['Do you hold an ISO 27001 certification?', 'Not yet; our controls are mapped to ISO 27001 Annex A and certification is planned.'],
  ['Do you have a SOC 2 Type II report?', 'Yes. The latest SOC 2 Type II report is available in the trust centre under NDA.'],
  ['Are you compliant with the GDPR?', 'Yes. We act as a processor under a data processing agreement with standard contractual clauses where needed.'],
  ['Do you sign data processing agreements?', 'Yes. Our standard DPA is available in the trust centre and can be signed electronically.'],
  ['Do you transfer personal data outside the EEA?', 'No customer data leaves the EEA; support tooling that may is covered by standard contractual clauses.'],
  ['Is there a designated data protection officer?', 'Yes. Our DPO can be reached at privacy@ and reports to the management board.'],
  ['Do you maintain an information security policy?', 'Yes. It is approved by management, reviewed yearly and acknowledged by every employee.'],
  ['Who is responsible for information security in your organisation?', 'The head of security, reporting to the CTO, with a security committee meeting monthly.'],
  ['Do you perform risk assessments?', 'Yes. A risk register is maintained and reassessed every year and for every significant change.'],
  ['How do you assess the security of your own vendors?', 'Vendors handling customer data are reviewed before onboarding and every year, based on their reports and questionnaires.'],
  ['Is single sign-on supported for customer users?', 'Yes. SAML 2.0 and OpenID Connect single sign-on are supported on business plans.'],
  ['Is role-based access control available to customers?', 'Yes. Administrators assign roles that limit what each user can see and change.'],
  ['Are sessions terminated after inactivity?', 'Yes. Sessions expire after 12 hours of inactivity and can be revoked by the user at any time.'],
  ['Is there protection against brute-force login attempts?', 'Yes. Failed logins are rate-limited per account and per IP, with lockout and notification.'],
  ['How are API keys protected?', 'API keys are shown once, stored only as peppered hashes, and can be scoped and revoked.'],
  ['Do you use a web application firewall?', 'Yes, in front of every public endpoint, with rules for the OWASP Top 10.'],
  ['Are you protected against distributed denial-of-service attacks?', 'Yes. Our edge provider absorbs volumetric attacks and we rate-limit at the application.'],
  ['Is network traffic between internal services encrypted?', 'Yes. Internal traffic uses mutual TLS inside private networks.'],
  ['Are firewall rules reviewed?', 'Network security groups are defined as code, reviewed on every change and audited twice a year.'],
  ['How are secrets stored in your infrastructure?', 'In a secrets manager, injected at runtime; never in source code or container images.'],
  ['Is customer data segregated between tenants?', 'Yes. Every query is scoped by tenant and the separation is covered by automated tests.'],
  ['Do support staff have access to customer content?', 'Only with the customer\'s permission for a specific ticket; every access is logged in the audit trail.'],
  ['Are staff accesses to customer data recorded?', 'Yes. Each access names the staff member, the reason and the records, in the tamper-evident audit trail.'],
  ['How is customer data deleted on request?', 'Deletion removes the data and destroys its keys at once; a signed deletion receipt is issued.'],
  ['Is media securely destroyed at end of life?', 'Our hosting providers destroy storage media following NIST SP 800-88, as their reports attest.'],
  ['Do you use artificial intelligence providers to process customer content?', 'Only the providers listed as sub-processors, under contracts that forbid training on customer content.'],
  ['Is customer content used to train machine learning models?', 'No. Customer content is never used for training, and providers are contractually bound to the same.'],
  ['Are prompts and completions retained by the relay?', 'No. The relay keeps only metadata (time, model, token counts) for 30 days, never the content.'],
  ['Do you carry cyber insurance?', 'Yes. We hold cyber liability insurance; a certificate is available on request.'],
  ['Do you have an internal audit function?', 'Controls are tested by an internal reviewer each quarter and by external auditors every year.'],
  ['How are security exceptions handled?', 'Exceptions need a documented risk acceptance from the head of security and expire after 90 days.'],
  ['Is there a change advisory board?', 'Significant infrastructure changes are reviewed by a weekly change review; routine changes follow code review.'],
  ['Do you have a mobile device policy?', 'Phones with access to company email must be enrolled in device management with a passcode and encryption.'],
  ['Is remote access protected by a VPN or zero-trust gateway?', 'Administrative access goes through a zero-trust gateway that checks identity, device posture and MFA.'],
  ['Are production servers hardened?', 'Images are built from minimal hardened bases, scanned, and rebuilt weekly; no interactive logins.'],
  ['How do you manage configuration drift?', 'Infrastructure is declared as code and drift is detected and reported daily.'],
  ['Is there an asset inventory?', 'Yes. Cloud resources and endpoints are inventoried automatically and owners are assigned.'],
  ['Do you classify data by sensitivity?', 'Yes. Four classes (public, internal, confidential, restricted) with handling rules for each.'],
  ['Is email protected with SPF, DKIM and DMARC?', 'Yes. Our domains publish SPF and DKIM and a DMARC policy of reject.'],
  ['Do you monitor for leaked credentials?', 'Yes. Staff credentials are checked against breach corpora and forced to rotate when found.'],
  ['How are security incidents escalated internally?', 'Any employee can raise one in the incident channel; the on-call security engineer triages within 30 minutes.'],
  ['Do you conduct tabletop exercises?', 'Yes. Incident response tabletop exercises run twice a year with engineering and leadership.'],
  ['How are customers informed about planned maintenance?', 'At least 72 hours ahead on the status page and by email to administrators.'],
  ['Can customers choose the region where their data is stored?', 'Yes, between the EU and US regions at account creation.'],
  ['Do you support customer-managed encryption keys?', 'Not currently; keys are managed by us in a dedicated key store and never leave it in clear.'],
  ['How is the integrity of deployed code verified?', 'Build artefacts are signed in CI and the signature is checked before deployment.'],
  ['Are open-source licences reviewed?', 'Dependencies are checked for licence compatibility automatically on every change.'],
  ['Do you publish a public trust centre?', 'Yes. Posture claims computed from the running system are published and signed with Ed25519.'],
  ['Is the posture statement cryptographically signed?', 'Yes. The posture JSON is signed with Ed25519 and the public key is published for verification.'],
  ['How do you handle law enforcement requests for customer data?', 'Requests are reviewed by counsel, narrowed where possible, and customers are told unless the law forbids it.'],
  ['Do you have whistleblower or ethics reporting channels?', 'Yes, an anonymous channel run by an independent provider.'],
  ['What is your approach to privacy by design?', 'Privacy reviews are part of feature design; data collected is minimised and retention limited by default.'],
  ['Are cookies used for tracking on the application?', 'No third-party tracking cookies; only strictly necessary session cookies.'],
  ['How are database credentials rotated?', 'Database credentials are issued per service from the secrets manager and rotated every 30 days.'],
  ['Do you scan container images for known vulnerabilities?', 'Yes. Images are scanned at build time and daily while deployed; critical findings page the owning team.'],
];

const SCOPES: Array<[question: string, answer: string]> = [
  ['', ''],
  [' for the production environment', ' This applies to every production system.'],
  [' for backups and disaster-recovery copies', ' Backups and recovery copies are covered in the same way.'],
  [' in the EU hosting region', ' The EU region follows the same control.'],
  [' for contractors and temporary staff', ' Contractors are held to the same requirement.'],
  [' for the mobile applications', ' The mobile applications follow the same practice.'],
  [' for support tooling', ' Support tools are included in scope.'],
  [' for the public API', ' The public API is covered as well.'],
];

/** Paraphrases a customer might use for the same control; applied in order, each when it occurs. */
const SYNONYMS: Array<[RegExp, string]> = [
  [/^Do you /, 'Does your organisation '], [/^Is /, 'Can you confirm: is '], [/^How are (.+?) (\w+)\?$/, 'Please describe how $1 are $2.'],
  [/^How often /, 'At what frequency '], [/^How do you (.+)\?$/, 'Explain how you $1.'], [/^Are /, 'Can you confirm: are '],
  [/customer data/g, 'client data'], [/employees/g, 'personnel'], [/regularly/g, 'on a regular basis'],
  [/production/g, 'live'], [/documented/g, 'written'], [/vulnerabilit(y|ies)/g, 'security weakness$1'],
  [/encryption keys/g, 'cryptographic keys'], [/staff/g, 'workforce'], [/retained/g, 'kept'],
];

const ABSENT = [
  'Do you operate a bug bounty on HackerOne with payouts above $10,000?', 'Is your headquarters located in a flood zone?',
  'Do you accept payment by purchase order in Japanese yen?', 'Do you use quantum key distribution between data centres?',
  'Have you been certified under the German C5 catalogue?', 'Is the product available as an on-premises appliance?',
  'Do you provide FedRAMP High authorised hosting?', 'How many parking spaces does your office provide for visitors?',
  'Do you have a dedicated team for mainframe COBOL maintenance?', 'Are your employees vaccinated against seasonal influenza?',
  'Do you support IBM AS/400 terminal emulation?', 'Is your company publicly listed on a stock exchange?',
  'Do you hold a PCI DSS Level 1 service provider attestation for card issuing?', 'Can satellites uplink directly to your service?',
  'Do you sponsor any professional football clubs?', 'Is Braille documentation provided for the hardware tokens?',
  'Do you maintain a seed vault for agricultural research?', 'Is your cafeteria food sourced from organic farms?',
  'Does your board include a chief sustainability officer?', 'Do you offer a fax-based support line?',
  'Do you run your own submarine cable landing station?', 'Is the service certified for use in nuclear power plant control rooms?',
  'Do you have HITRUST CSF r2 certification?', 'Are drones used to patrol your office perimeter?',
  'Do you provide a 24/7 telephone hotline in Icelandic?', 'Is your source code escrowed with a Swiss notary?',
  'Do you operate a blockchain-based document ledger?', 'Are employees allowed to bring pets to the office?',
  'Do you offer carbon-neutral shipping for hardware?', 'Is your product rated for operation at minus 40 degrees?',
];

/** Three scopes per base question, chosen so that neighbours differ: 300 library entries. */
export function library(): Array<{ question: string; answer: string }> {
  return BASE.flatMap(([q, a], i) => [0, 1 + (i % 7), 1 + ((i + 3) % 7)]
    .map((s) => ({ question: q.replace(/\?$/, `${SCOPES[s][0]}?`), answer: a + SCOPES[s][1] })));
}

function paraphrase(question: string, variant: number): string {
  // The scope is re-attached after the rewrite, so sentence reordering applies to the base question.
  const scope = SCOPES.slice(1).map(([text]) => text).find((text) => question.endsWith(`${text}?`)) ?? '';
  let out = question.slice(0, question.length - scope.length - 1) + '?';
  // Each variant applies a different subset of the rewrites, so paraphrases differ from each other too.
  SYNONYMS.forEach(([from, to], k) => { if ((k + variant) % 2 === 0 || k < 6) out = out.replace(from, to); });
  return out.replace(/([?.])$/, `${scope}$1`);
}

/** The customer's 300 questions: every tenth absent from the library, a third verbatim (restyled), the rest paraphrased. */
export function askedQuestions(entries: Array<{ question: string }>): string[] {
  return entries.map((e, i) => {
    if (i % 10 === 9) return ABSENT[(i - 9) / 10 % ABSENT.length];
    if (i % 3 === 0) return `${i % 2 ? e.question.toUpperCase() : e.question.toLowerCase()}`.replace(/\?$/, ' ?');
    return paraphrase(e.question, i);
  });
}
