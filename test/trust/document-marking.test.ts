// A restricted document's copy names its access grant inside the file, read back with readers
// that did not write it: pdf.js for the PDF's Info dictionary and page text, mammoth and unzip for
// the DOCX, exceljs for the XLSX's properties and sheet footer, unzip for a ZIP's entry and comment.
// The rest of each file is still there; a restricted file that cannot be marked is refused (422).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import mammoth from 'mammoth';
import { ZipArchive } from 'archiver';
import { api, testContainer } from '../support/app.js';
import { createStaff, type TestStaff } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';
import { tempDir } from '../support/temp.js';
import { requireTool } from '../support/tools.js';
import { makeDocx, makePdf, makeXlsx } from '../chat/fixtures.js';

const binary = (req: ReturnType<ReturnType<typeof api>['get']>) => req.buffer(true)
  .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });

async function makeZip(entries: Record<string, string>): Promise<Buffer> {
  const zip = new ZipArchive({ zlib: { level: 6 } });
  const parts: Buffer[] = [];
  zip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise<void>((resolve, reject) => { zip.on('end', () => resolve()); zip.on('error', reject); });
  for (const [name, content] of Object.entries(entries)) zip.append(content, { name });
  await zip.finalize();
  await done;
  return Buffer.concat(parts);
}

describe('trust: a granted copy carries its grant inside the file', function () {
  this.timeout(60_000);
  let security: TestStaff;
  const db = () => testContainer().platform.db;

  /** Publishes a restricted file and takes it through request, approval and NDA; returns the copy and the grant id. */
  async function grantedCopy(fileName: string, bytes: Buffer): Promise<{ grant: string; file: Buffer }> {
    const doc = await api().post('/api/v1/admin/trust/documents?title=Report&visibility=restricted').set(security.auth).attach('file', bytes, fileName);
    expect(doc.status, doc.text).to.equal(201);
    const asked = await api().post(`/api/v1/trust/documents/${doc.body.id}/access-requests`).send({ name: 'Casey CSO', company: 'Prospect & Sons', email: 'casey@prospect.test', purpose: 'Vendor review' }).expect(202);
    await api().post(`/api/v1/admin/trust/access-requests/${asked.body.id}/decision`).set(security.auth).send({ approve: true }).expect(200);
    const row = await db()('trust_outbox').where({ kind: 'document_access', dedupe_key: `document-access:${asked.body.id}` }).first();
    const link = await testContainer().platform.fieldCipher.decryptText({ table: 'trust_outbox', column: 'link_enc', rowId: row.id }, row.link_enc);
    const token = /\/access-requests\/(cda_[A-Za-z0-9_-]+)$/.exec(link)![1];
    const nda = (await api().get('/api/v1/trust/nda').expect(200)).body;
    const accepted = await api().post(`/api/v1/trust/access-requests/${token}/nda`).send({ accept: true, ndaSha256: nda.sha256 }).expect(200);
    const res = await binary(api().get(accepted.body.downloadUrl));
    expect(res.status).to.equal(200);
    expect(res.headers['x-custos-grantee']).to.equal(asked.body.id);
    return { grant: asked.body.id, file: res.body as Buffer };
  }

  before(async () => {
    security = await createStaff('security');
  });

  it('PDF: in the Info dictionary and as text on every page', async () => {
    const { grant, file } = await grantedCopy('soc2.pdf', await makePdf(['SOC 2 Type II report', 'Section 1']));
    const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
    const pdf = await pdfjs.getDocument({ data: new Uint8Array(file), isEvalSupported: false, verbosity: 0 }).promise;
    try {
      const { info } = await pdf.getMetadata() as { info: Record<string, any> };
      expect(info.Custom?.CustosGrantee).to.equal(grant);
      expect(info.Keywords).to.contain(`custos-grant:${grant}`);
      expect(info.Subject).to.contain(grant);
      expect(pdf.numPages).to.equal(2);
      for (let n = 1; n <= pdf.numPages; n++) {
        const text = (await (await pdf.getPage(n)).getTextContent()).items.map((i) => ('str' in i ? i.str : '')).join('');
        expect(text, `page ${n}`).to.contain(`access grant ${grant}`);
        expect(text, `page ${n}`).to.contain(n === 1 ? 'SOC 2 Type II report' : 'Page two says goodbye');
      }
    } finally {
      await pdf.destroy();
    }
  });

  it('DOCX: in the core properties and as a closing paragraph', async function () {
    requireTool(this, 'unzip');
    const { grant, file } = await grantedCopy('policy.docx', await makeDocx(['Information security policy', 'All data is classified.']));
    const text = (await mammoth.extractRawText({ buffer: file })).value;
    expect(text).to.contain('Information security policy');
    expect(text).to.contain('All data is classified.');
    expect(text).to.contain(`Issued to Prospect & Sons under access grant ${grant}`);
    const path = join(tempDir('marked-docx'), 'policy.docx');
    writeFileSync(path, file);
    const core = execFileSync('unzip', ['-p', path, 'docProps/core.xml']).toString();
    expect(core).to.contain(`custos-grant:${grant}`);
    expect(execFileSync('unzip', ['-p', path, '[[]Content_Types].xml']).toString()).to.contain('/docProps/core.xml');
  });

  it('XLSX: in the workbook properties and the footer of every sheet, cells untouched', async () => {
    const original = await makeXlsx({ Controls: [['Control', 'Status'], ['Backups', 'Tested']], Findings: [['Finding'], ['None open']] });
    const { grant, file } = await grantedCopy('controls.xlsx', original);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(file as unknown as ArrayBuffer);
    expect(wb.keywords).to.contain(`custos-grant:${grant}`);
    expect(wb.subject).to.contain(grant);
    expect(wb.worksheets.map((s) => s.name)).to.deep.equal(['Controls', 'Findings']);
    for (const sheet of wb.worksheets) expect(String(sheet.headerFooter.oddFooter), sheet.name).to.contain(`access grant ${grant}`).and.contain('Prospect && Sons');
    expect(wb.getWorksheet('Controls')!.getCell('B2').value).to.equal('Tested');
    expect(wb.getWorksheet('Findings')!.getCell('A2').value).to.equal('None open');
  });

  it('ZIP: as an entry and in the archive comment, every entry kept', async function () {
    requireTool(this, 'unzip');
    const { grant, file } = await grantedCopy('evidence.zip', await makeZip({ 'pentest/summary.txt': 'No critical findings.\n' }));
    const path = join(tempDir('marked-zip'), 'evidence.zip');
    writeFileSync(path, file);
    expect(execFileSync('unzip', ['-p', path, 'pentest/summary.txt']).toString()).to.equal('No critical findings.\n');
    expect(execFileSync('unzip', ['-p', path, 'CUSTOS-GRANT.txt']).toString()).to.contain(grant);
    expect(execFileSync('unzip', ['-z', path]).toString()).to.contain(`access grant ${grant}`);
  });

  it('refuses a restricted file it could not mark (422), while a public one is served as uploaded', async () => {
    const broken = Buffer.from('%PDF-1.7\nthis is not a PDF body\n');
    expectProblem(await api().post('/api/v1/admin/trust/documents?title=Broken&visibility=restricted').set(security.auth).attach('file', broken, 'broken.pdf'), 422);
    const pub = await api().post('/api/v1/admin/trust/documents?title=Public&visibility=public').set(security.auth).attach('file', broken, 'public.pdf').expect(201);
    const file = await binary(api().get(`/api/v1/trust/documents/${pub.body.id}/download`));
    expect((file.body as Buffer).equals(broken)).to.equal(true);
  });
});
