import { expect } from 'chai';
import { api, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { makeDocx, makePdf, makeXlsx } from './fixtures.js';
import { artifactFiles, fileRowCount, upload, uploadOk } from './support.js';

describe('chat: files', () => {
  let user: TestUser;
  before(async () => { user = await createUser('uploader'); });

  const textOf = async (fileId: string) => {
    const res = await api().get(`/api/v1/files/${fileId}/text`).set(user.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.text as string;
  };

  it('extracts the text of a PDF (both pages)', async () => {
    const file = await uploadOk(user, 'report.pdf', await makePdf(['Quarterly revenue grew twelve percent', 'Churn fell to two percent']));
    expect(file).to.include({ name: 'report.pdf', kind: 'pdf', mediaType: 'application/pdf' });
    const text = await textOf(file.id);
    expect(text).to.contain('Quarterly revenue grew twelve percent');
    expect(text).to.contain('Churn fell to two percent');
    expect(text).to.contain('Page two says goodbye');
  });

  it('extracts the paragraphs of a DOCX', async () => {
    const file = await uploadOk(user, 'letter.docx', await makeDocx(['Dear Ada,', 'The engine works & so do we.']));
    expect(file.kind).to.equal('docx');
    const text = await textOf(file.id);
    expect(text).to.contain('Dear Ada,');
    expect(text).to.contain('The engine works & so do we.');
  });

  it('extracts every sheet of an XLSX as tab-separated rows', async () => {
    const file = await uploadOk(user, 'budget.xlsx', await makeXlsx({ Budget: [['Item', 'Cost'], ['Rent', 1200]], Notes: [['Paid monthly']] }));
    expect(file.kind).to.equal('xlsx');
    const text = await textOf(file.id);
    expect(text).to.contain('# Budget');
    expect(text).to.contain('Item\tCost');
    expect(text).to.contain('Rent\t1200');
    expect(text).to.contain('# Notes\nPaid monthly');
  });

  it('keeps CSV, TXT and Markdown text as it is, including non-ASCII', async () => {
    for (const [name, body, kind] of [['data.csv', 'a,b\n1,2\n', 'csv'], ['notes.txt', 'Grüße aus Köln ✓', 'txt'], ['README.md', '# Título\n\n- ítem', 'markdown']]) {
      const file = await uploadOk(user, name, Buffer.from(body, 'utf8'));
      expect(file.kind).to.equal(kind);
      expect(await textOf(file.id)).to.equal(body);
    }
  });

  it('gives back the original bytes, and lists, reads and deletes the file', async () => {
    const bytes = await makeDocx(['round trip']);
    const file = await uploadOk(user, 'Überblick.docx', bytes);
    expect(file.name).to.equal('Überblick.docx');
    const content = await api().get(`/api/v1/files/${file.id}/content`).set(user.auth).buffer(true)
      .parse((res, done) => { const parts: Buffer[] = []; res.on('data', (c: Buffer) => parts.push(c)); res.on('end', () => done(null, Buffer.concat(parts))); });
    expect(content.status).to.equal(200);
    expect(Buffer.compare(content.body as Buffer, bytes)).to.equal(0);
    expect(content.headers['content-disposition']).to.contain("filename*=UTF-8''%C3%9Cberblick.docx");

    const list = await api().get('/api/v1/files').set(user.auth);
    expect(list.status).to.equal(200);
    expect(list.body.items[0].id).to.equal(file.id);
    expect((await api().get(`/api/v1/files/${file.id}`).set(user.auth)).body.sizeBytes).to.equal(bytes.length);

    const before = artifactFiles().length;
    expect((await api().delete(`/api/v1/files/${file.id}`).set(user.auth)).status).to.equal(204);
    expect(artifactFiles().length).to.equal(before - 1);
    expect((await api().get(`/api/v1/files/${file.id}/text`).set(user.auth)).status).to.equal(404);
  });

  describe('refused uploads store nothing', () => {
    let victim: TestUser;
    before(async () => { victim = await createUser('refused'); });
    afterEach(async () => {
      expect(await fileRowCount(victim.id), 'no files row').to.equal(0);
      expect(artifactFiles().filter((f) => f.includes(victim.id)), 'no stored object').to.deep.equal([]);
    });

    it('a corrupt PDF is 422 with a reason', async () => {
      const res = await upload(victim, 'broken.pdf', Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref or trailer'));
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      expect(res.headers['content-type']).to.match(/problem\+json/);
      expect(res.body.detail).to.match(/PDF/);
    });

    it('a file that is not what its extension says is 422', async () => {
      const res = await upload(victim, 'fake.docx', Buffer.from('just some text'));
      expect(res.status).to.equal(422);
      expect(res.body.detail).to.match(/DOCX/);
    });

    it('a DOCX that inflates past the limit (zip bomb) is 422, named by its limit', async function () {
      this.timeout(60_000);
      const bomb = await makeDocx(['tiny'], { zeroPaddingBytes: 300 * 1024 * 1024 });
      expect(bomb.length).to.be.below(2 * 1024 * 1024);
      const res = await upload(victim, 'bomb.docx', bomb);
      expect(res.status, JSON.stringify(res.body)).to.equal(422);
      expect(res.body.limit).to.equal('inflatedSize');
      expect(res.body.detail).to.contain('CUSTOS_EXTRACTION_MAX_INFLATED_BYTES');
    });

    it('binary data named .txt is 422', async () => {
      const res = await upload(victim, 'blob.txt', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02]));
      expect(res.status).to.equal(422);
    });

    it('an unsupported type is 415 and lists the supported ones', async () => {
      const res = await upload(victim, 'photo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      expect(res.status).to.equal(415);
      expect(res.body.detail).to.contain('.pdf');
    });

    it('a file over CUSTOS_UPLOAD_LIMIT_BYTES is 413', async () => {
      const limit = testContainer().platform.config.uploadLimitBytes;
      const res = await upload(victim, 'huge.txt', Buffer.alloc(limit + 1, 'a'));
      expect(res.status).to.equal(413);
      expect(res.body.detail).to.contain(String(limit));
    });

    it('a request without a file part is 400', async () => {
      const res = await api().post('/api/v1/files').set(victim.auth).field('note', 'no file here');
      expect(res.status).to.equal(400);
    });
  });
});
