// Trust documents through HTTP: public download, the restricted path (access request → link by
// email → approval by staff or allowed domain → NDA click-through recorded with the text's hash,
// time, IP and user agent → expiring grant), encryption at rest, and every download recorded.
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createStaff, type TestStaff } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

const binary = (req: ReturnType<ReturnType<typeof api>['get']>) => req.buffer(true)
  .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });

describe('trust: documents', function () {
  this.timeout(60_000);
  let security: TestStaff;
  const db = () => testContainer().platform.db;
  const canary = `canary-${randomBytes(6).toString('hex')}`;
  const upload = (title: string, visibility: string, name: string, content: string, client = api, auth = () => security.auth) =>
    client().post(`/api/v1/admin/trust/documents?title=${encodeURIComponent(title)}&visibility=${visibility}`).set(auth()).attach('file', Buffer.from(content), name);
  const linkOf = async (requestId: string) => {
    const row = await db()('trust_outbox').where({ kind: 'document_access', dedupe_key: `document-access:${requestId}` }).first();
    expect(JSON.stringify(row)).to.not.contain('cda_');
    const link = await testContainer().platform.fieldCipher.decryptText({ table: 'trust_outbox', column: 'link_enc', rowId: row.id }, row.link_enc);
    return /\/access-requests\/(cda_[A-Za-z0-9_-]+)$/.exec(link)![1];
  };

  before(async () => {
    security = await createStaff('security');
  });

  it('publishes a public document that anyone downloads, recording each download', async () => {
    const res = await upload('Security whitepaper', 'public', 'whitepaper.md', '# How we protect your data\n');
    expect(res.status, res.text).to.equal(201);
    const list = await api().get('/api/v1/trust/documents').expect(200);
    expect(list.body.items.map((d: { id: string }) => d.id)).to.include(res.body.id);
    const file = await binary(api().get(`/api/v1/trust/documents/${res.body.id}/download`).set('User-Agent', 'doc-test'));
    expect(file.status).to.equal(200);
    expect((file.body as Buffer).toString()).to.equal('# How we protect your data\n');
    const downloads = await db()('document_downloads').where({ document_id: res.body.id });
    expect(downloads).to.have.length(1);
    expect(downloads[0]).to.include({ user_agent: 'doc-test', access_request_id: null });
  });

  it('takes a restricted document through request, approval, NDA and an expiring grant', async () => {
    const doc = await upload('SOC 2 Type II report', 'restricted', 'soc2.txt', `Confidential report ${canary}`).expect(201);
    // Stored encrypted: the canary appears in no artifact file and in no row.
    const dir = testContainer().platform.config.artifactDir;
    const files = (function walk(d: string): string[] { return readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)])); })(dir);
    for (const f of files) expect(readFileSync(f).toString('latin1'), f).to.not.contain(canary);

    const direct = await api().get(`/api/v1/trust/documents/${doc.body.id}/download`);
    expectProblem(direct, 403);
    const email = `cso-${randomBytes(3).toString('hex')}@prospect.test`;
    const asked = await api().post(`/api/v1/trust/documents/${doc.body.id}/access-requests`).send({ name: 'Casey CSO', company: 'Prospect Ltd', email, purpose: 'Vendor review' });
    expect(asked.status, asked.text).to.equal(202);
    const stored = await db()('document_access_requests').where({ id: asked.body.id }).first();
    expect(JSON.stringify(stored) + stored.email_enc.toString('latin1')).to.not.contain(email);
    const token = await linkOf(asked.body.id);

    const nda = (await api().get('/api/v1/trust/nda').expect(200)).body;
    expect(nda.sha256).to.equal(createHash('sha256').update(nda.text).digest('hex'));
    expectProblem(await api().post(`/api/v1/trust/access-requests/${token}/nda`).send({ accept: true, ndaSha256: nda.sha256 }), 409);

    const pending = await api().get('/api/v1/admin/trust/access-requests?state=pending').set(security.auth).expect(200);
    expect(pending.body.items.find((r: { id: string }) => r.id === asked.body.id)).to.include({ email, company: 'Prospect Ltd' });
    await api().post(`/api/v1/admin/trust/access-requests/${asked.body.id}/decision`).set(security.auth).send({ approve: true }).expect(200);
    const audited = await db()('audit_events').where({ action: 'trust.document_access.approve', actor_staff_id: security.id }).whereRaw('? = ANY(resource_ids)', [asked.body.id]);
    expect(audited).to.have.length(1);

    expectProblem(await api().post(`/api/v1/trust/access-requests/${token}/nda`).send({ accept: true, ndaSha256: '0'.repeat(64) }), 409);
    const accepted = await api().post(`/api/v1/trust/access-requests/${token}/nda`).set('User-Agent', 'nda-browser').send({ accept: true, ndaSha256: nda.sha256 });
    expect(accepted.status, accepted.text).to.equal(200);
    const record = await db()('document_access_requests').where({ id: asked.body.id }).first();
    expect(record).to.include({ nda_sha256: nda.sha256, nda_user_agent: 'nda-browser' });
    expect(record.nda_ip).to.be.a('string');
    expect(record.nda_accepted_at).to.be.instanceOf(Date);
    expect(new Date(accepted.body.grantExpiresAt).getTime() - Date.now()).to.be.closeTo(72 * 3600_000, 60_000);

    const file = await binary(api().get(accepted.body.downloadUrl));
    expect(file.status).to.equal(200);
    // The copy is the document plus a closing line naming the grant (inside the file, not only in headers).
    const [content, marking] = (file.body as Buffer).toString().split('\n\n');
    expect(content).to.equal(`Confidential report ${canary}`);
    expect(marking).to.equal(`Confidential. Issued to Prospect Ltd under access grant ${asked.body.id} on ${new Date().toISOString().slice(0, 10)}; do not redistribute.\n`);
    expect(file.headers['x-custos-grantee']).to.equal(asked.body.id);
    expect(file.headers['content-disposition']).to.contain(asked.body.id);
    expect(await db()('document_downloads').where({ access_request_id: asked.body.id })).to.have.length(1);

    await db()('document_access_requests').where({ id: asked.body.id }).update({ grant_expires_at: new Date(Date.now() - 1000) });
    const expired = expectProblem(await api().get(accepted.body.downloadUrl), 403);
    expect(String(expired.detail)).to.contain('expired');
  });

  describe('with an allowed email domain', () => {
    const auto = isolatedApp({ CUSTOS_TRUST_AUTO_APPROVE_DOMAINS: 'customer.test', CUSTOS_QUEUE_PREFIX: `${process.env.CUSTOS_QUEUE_PREFIX}_docs_${process.pid}` });
    after(() => auto.close());

    it('approves at once, still sending the link to that mailbox', async () => {
      const doc = await upload('Pen-test summary', 'restricted', 'pentest.txt', 'findings').expect(201);
      const asked = await auto.api().post(`/api/v1/trust/documents/${doc.body.id}/access-requests`).send({ name: 'Ana', company: 'Customer', email: 'ana@customer.test', purpose: 'Renewal' }).expect(202);
      const token = await linkOf(asked.body.id);
      const status = await auto.api().get(`/api/v1/trust/access-requests/${token}`).expect(200);
      expect(status.body.state).to.equal('approved');
      const other = await auto.api().post(`/api/v1/trust/documents/${doc.body.id}/access-requests`).send({ name: 'Eve', company: 'Elsewhere', email: 'eve@elsewhere.test', purpose: 'Curious' }).expect(202);
      expect((await auto.api().get(`/api/v1/trust/access-requests/${await linkOf(other.body.id)}`).expect(200)).body.state).to.equal('pending');
    });
  });
});
