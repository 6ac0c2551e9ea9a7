// Questionnaires answered in the customer's own file: a real XLSX round trip with exceljs that
// compares every untouched cell (value and style), sheets, sizes, widths and merges; CAIQ v4
// columns; unmatched and stale questions left empty and flagged; the answer library's
// staleness when a cited posture claim changes; CSV with RFC 4180 quoting.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { api, testContainer } from '../support/app.js';
import { createStaff, type TestStaff } from '../support/accounts.js';
import { expectProblem } from '../support/problems.js';

const binary = (req: ReturnType<ReturnType<typeof api>['post']>) => req.buffer(true)
  .parse((res, cb) => { const chunks: Buffer[] = []; res.on('data', (c: Buffer) => chunks.push(c)); res.on('end', () => cb(null, Buffer.concat(chunks))); });

async function customerWorkbook(): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const cover = wb.addWorksheet('Cover');
  cover.getCell('A1').value = 'Acme Corp vendor security review';
  cover.getCell('A1').font = { bold: true, size: 16, color: { argb: 'FF1F4E79' } };
  cover.getCell('A3').value = { richText: [{ text: 'Return by ' }, { font: { bold: true }, text: '31 December' }] };
  const sheet = wb.addWorksheet('Security');
  sheet.mergeCells('A1:D1');
  sheet.getCell('A1').value = 'Section 4: Data protection';
  sheet.getCell('A1').alignment = { horizontal: 'center' };
  sheet.getRow(3).values = ['ID', 'Question', 'Answer', 'Comments'];
  sheet.getRow(3).font = { bold: true };
  sheet.getRow(3).eachCell((c) => { c.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFD9E1F2' } }; });
  sheet.columns = [{ width: 8 }, { width: 60 }, { width: 50 }, { width: 30 }];
  const rows: Array<[string, string, string, string]> = [
    ['4.1', 'Is customer data encrypted at rest?', '', ''],
    ['4.2', 'How are passwords stored?', '', 'Please be specific'],
    ['4.3', 'Do you perform regular backups of customer data?', '', ''],
    ['4.4', 'Do you have a bug bounty on HackerOne with payouts over $10,000?', '', ''],
    ['4.5', 'Is multi-factor authentication required for administrative access?', 'Yes, hardware keys', 'answered by customer'],
    ['4.6', 'When was your last backup verified?', '', ''],
    ['4.7', 'Is customer data encrypted in transit?', '', ''],
  ];
  rows.forEach((r, i) => {
    const row = sheet.getRow(4 + i);
    row.values = r;
    if (r[0] === '4.4') row.getCell(3).value = null;
    row.getCell(2).alignment = { wrapText: true };
    row.getCell(3).border = { bottom: { style: 'thin' } };
  });
  sheet.getCell('B11').value = { formula: 'COUNTA(B4:B10)', result: 7 };
  const caiq = wb.addWorksheet('CAIQv4');
  caiq.getRow(1).values = ['Question ID', 'Question', 'CSP CAIQ Answer', 'SSRM Control Ownership', 'CSP Implementation Description (Optional/Recommended)'];
  caiq.getRow(2).values = ['CEK-03.1', 'Are data at rest encrypted?', '', '', ''];
  caiq.getRow(3).values = ['CEK-99.9', 'Do you use quantum key distribution between data centres?', '', '', ''];
  return Buffer.from(await wb.xlsx.writeBuffer());
}

const cellSnapshot = (cell: ExcelJS.Cell) => JSON.stringify({ value: cell.value, style: cell.style, note: cell.note ?? null });

describe('trust: questionnaires', function () {
  this.timeout(60_000);
  let security: TestStaff;
  const add = (body: Record<string, unknown>) => api().post('/api/v1/admin/trust/answers').set(security.auth).send(body);

  before(async () => {
    security = await createStaff('security');
    await add({ question: 'Is customer data encrypted at rest?', answer: 'Yes. Chat content, files and session data are encrypted with AES-256-GCM under per-user keys.', claims: ['encryption.at_rest'] }).expect(201);
    await add({ question: 'How are passwords stored?', answer: 'With bcrypt at cost 12 or more.', claims: ['passwords.bcrypt_cost'], tags: ['auth'] }).expect(201);
    await add({ question: 'Do you perform regular backups?', answer: 'Yes: nightly encrypted backups, verified by a test restore.' }).expect(201);
    await add({ question: 'When was the last backup verified?', answer: 'Within the last 48 hours.', claims: ['backups.last_verified_at'] }).expect(201);
  });

  it('marks an answer stale once a posture claim it cites changes, until it is reviewed again', async () => {
    const now = new Date();
    await testContainer().platform.db('backup_runs').insert({ kind: 'data', status: 'succeeded', started_at: now, finished_at: now, verified_at: now, verify_status: 'passed', verify_duration_ms: 5 });
    testContainer().trust.invalidatePosture();
    const stale = await api().get('/api/v1/admin/trust/answers?stale=true').set(security.auth).expect(200);
    const item = stale.body.items.find((a: { question: string }) => a.question === 'When was the last backup verified?');
    expect(item, JSON.stringify(stale.body)).to.not.equal(undefined);
    expect(item.staleReasons.join(' ')).to.contain('backups.last_verified_at changed');
    expect(stale.body.items.map((a: { question: string }) => a.question)).to.not.include('How are passwords stored?');
    expectProblem(await add({ question: 'Bogus claim', answer: 'x', claims: ['no.such.claim'] }), 400);
  });

  it('fills the answer cells of the customer\'s own XLSX and leaves every other cell exactly as it was', async () => {
    const original = await customerWorkbook();
    const res = await binary(api().post('/api/v1/admin/trust/questionnaires').set(security.auth).attach('file', original, 'acme-review.xlsx'));
    expect(res.status, String(res.body)).to.equal(200);
    expect(res.headers['content-type']).to.match(/spreadsheetml/);
    const before = new ExcelJS.Workbook();
    await before.xlsx.load(original as unknown as ArrayBuffer);
    const after = new ExcelJS.Workbook();
    await after.xlsx.load(res.body as ArrayBuffer);

    expect(after.worksheets.map((s) => s.name)).to.deep.equal(['Cover', 'Security', 'CAIQv4']);
    const touched = new Set(['Security!C4', 'Security!C5', 'Security!C6', 'Security!C7', 'Security!C9', 'Security!C10', 'CAIQv4!C2', 'CAIQv4!E2', 'CAIQv4!C3']);
    for (const sheet of before.worksheets) {
      const out = after.getWorksheet(sheet.name)!;
      expect(out.rowCount, sheet.name).to.equal(sheet.rowCount);
      expect(out.columnCount, sheet.name).to.equal(sheet.columnCount);
      expect(out.columns.map((c) => c.width), sheet.name).to.deep.equal(sheet.columns.map((c) => c.width));
      expect(JSON.stringify((out.model as { merges?: string[] }).merges ?? [])).to.equal(JSON.stringify((sheet.model as { merges?: string[] }).merges ?? []));
      for (let r = 1; r <= sheet.rowCount; r++) {
        for (let c = 1; c <= sheet.columnCount; c++) {
          const address = `${sheet.name}!${out.getRow(r).getCell(c).address}`;
          if (touched.has(address)) continue;
          expect(cellSnapshot(out.getRow(r).getCell(c)), address).to.equal(cellSnapshot(sheet.getRow(r).getCell(c)));
        }
      }
    }
    const sheetOut = after.getWorksheet('Security')!;
    expect(String(sheetOut.getCell('C4').value)).to.contain('AES-256-GCM');
    expect(String(sheetOut.getCell('C5').value)).to.contain('bcrypt');
    expect(String(sheetOut.getCell('C6').value)).to.contain('nightly encrypted backups');
    // Formatting of a filled cell is kept too.
    expect(sheetOut.getCell('C4').border).to.deep.equal({ bottom: { style: 'thin' } });
    // Unmatched: empty, with a note; stale: empty, with the reason; answered by the customer: untouched.
    expect(sheetOut.getCell('C7').text).to.equal('');
    expect(String(sheetOut.getCell('C7').note)).to.contain('No matching answer');
    expect(sheetOut.getCell('C8').value).to.equal('Yes, hardware keys');
    expect(sheetOut.getCell('C9').text).to.equal('');
    expect(String(sheetOut.getCell('C9').note)).to.contain('needs review');
    // Close in characters, opposite in meaning: never answered with the "at rest" answer.
    expect(sheetOut.getCell('C10').text).to.equal('');
    expect(String(sheetOut.getCell('C10').note)).to.contain('No matching answer');
    const caiq = after.getWorksheet('CAIQv4')!;
    expect(caiq.getCell('C2').value).to.equal('Yes');
    expect(String(caiq.getCell('E2').value)).to.contain('AES-256-GCM');
    expect(caiq.getCell('C3').text).to.equal('');
    expect(String(caiq.getCell('C3').note)).to.contain('No matching answer');
    expect(res.headers['x-custos-answered']).to.equal('4');
    expect(res.headers['x-custos-unanswered'], JSON.stringify(after.worksheets.map((s) => s.name + ':' + s.rowCount))).to.equal('4');
  });

  it('fills a CSV with RFC 4180 quoting kept, flagging unmatched rows in a trailing column', async () => {
    const csv = 'Ref,Question,Response\r\n1,"How are passwords stored?",\r\n2,"Do you, as a rule, sell customer data to brokers?",\r\n';
    const res = await api().post('/api/v1/admin/trust/questionnaires').set(security.auth).attach('file', Buffer.from(csv), 'review.csv');
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['content-type']).to.equal('text/csv; charset=utf-8');
    const lines = res.text.split('\r\n');
    expect(lines[0]).to.equal('Ref,Question,Response,Custos note');
    expect(lines[1]).to.equal('1,How are passwords stored?,With bcrypt at cost 12 or more.,');
    expect(lines[2]).to.match(/^2,"Do you, as a rule, sell customer data to brokers\?",,No matching answer/);
    expect(lines[3]).to.equal('');
  });

  // After the XLSX test, which needs the backup answer stale.
  it('clears staleness on review (PATCH reviewed), edits and deletes an answer, each audited', async () => {
    const all = (await api().get('/api/v1/admin/trust/answers').set(security.auth).expect(200)).body.items;
    const backup = all.find((a: { question: string }) => a.question === 'When was the last backup verified?');
    expect(backup).to.include({ stale: true, ownerStaffId: security.id });
    const reviewed = await api().patch(`/api/v1/admin/trust/answers/${backup.id}`).set(security.auth).send({ reviewed: true });
    expect(reviewed.status, reviewed.text).to.equal(200);
    expect(reviewed.body).to.include({ stale: false });
    expect(reviewed.body.staleReasons).to.deep.equal([]);
    expect(new Date(reviewed.body.lastReviewedAt).getTime()).to.be.greaterThan(new Date(backup.lastReviewedAt).getTime());
    expect(new Date(reviewed.body.reviewBy).getTime() - Date.now()).to.be.closeTo(365 * 86_400_000, 120_000);
    const edited = await api().patch(`/api/v1/admin/trust/answers/${backup.id}`).set(security.auth).send({ answer: 'Within the last 24 hours.' }).expect(200);
    expect(edited.body.answer).to.equal('Within the last 24 hours.');
    await api().delete(`/api/v1/admin/trust/answers/${backup.id}`).set(security.auth).expect(204);
    expect((await api().get('/api/v1/admin/trust/answers').set(security.auth).expect(200)).body.items.map((a: { id: string }) => a.id)).to.not.include(backup.id);
    expectProblem(await api().delete(`/api/v1/admin/trust/answers/${backup.id}`).set(security.auth), 404);
    const audited = await testContainer().platform.db('audit_events').whereRaw('? = ANY(resource_ids)', [backup.id]).orderBy('seq').pluck('action');
    expect(audited).to.deep.equal(['trust.answer.create', 'trust.answer.review', 'trust.answer.update', 'trust.answer.delete']);
  });

  it('refuses a file without a question and an answer column (422) and other types (415)', async () => {
    expectProblem(await api().post('/api/v1/admin/trust/questionnaires').set(security.auth).attach('file', Buffer.from('a,b\n1,2\n'), 'x.csv'), 422);
    expectProblem(await api().post('/api/v1/admin/trust/questionnaires').set(security.auth).attach('file', Buffer.from('hello'), 'x.txt'), 415);
  });
});
