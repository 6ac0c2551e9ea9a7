// Issue 12, items 1 and 2: uploads that exhausted memory (zip bombs with lying headers) or froze
// the event loop (a PDF whose pages share one content stream). Every malicious file is built here,
// at test time; each must be refused with a 422 naming the limit it hit, and leave nothing stored.
import { expect } from 'chai';
import supertest from 'supertest';
import { api, isolatedApp, testContainer } from '../support/app.js';
import { createUser, type TestUser } from '../support/accounts.js';
import { makeSharedStreamPdf } from './fixtures.js';
import { artifactFiles, fileRowCount, upload } from './support.js';
import { deflatedPart, docxWith, DOCUMENT_HEAD, DOCUMENT_TAIL, lyingDocx, storedPart } from './zip-fixtures.js';

const MiB = 1024 * 1024;

/** Samples the process's resident memory (the API thread and every worker thread) until stopped. */
function rssPeak() {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  return { stop: () => { clearInterval(timer); peak = Math.max(peak, process.memoryUsage().rss); return (peak - start) / MiB; } };
}

const uploadTo = (api: () => supertest.Agent, user: TestUser, name: string, bytes: Buffer) =>
  api().post('/api/v1/files').set(user.auth).attach('file', bytes, { filename: name, contentType: 'application/octet-stream' });

describe('chat: upload limits (zip bombs, PDFs that hold the event loop)', () => {
  let victim: TestUser;
  before(async () => { victim = await createUser('limits'); });
  afterEach(async () => {
    expect(await fileRowCount(victim.id), 'no files row').to.equal(0);
    expect(artifactFiles().filter((f) => f.includes(victim.id)), 'no stored object').to.deep.equal([]);
  });

  const expectRefused = (res: supertest.Response, limit: string, setting: string) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.headers['content-type']).to.match(/problem\+json/);
    expect(res.body.limit).to.equal(limit);
    expect(res.body.detail).to.contain(setting).and.to.contain('Nothing was stored');
  };

  it('three DOCX bombs whose zip headers declare 1,000 bytes for 2 GiB are 422 at the inflation limit, memory bounded', async function () {
    this.timeout(180_000);
    const bomb = lyingDocx(2 * 1024 * MiB);
    expect(bomb.length).to.be.below(testContainer().platform.config.uploadLimitBytes);
    const rss = rssPeak();
    const responses = await Promise.all([1, 2, 3].map((n) => upload(victim, `bomb-${n}.docx`, bomb)));
    const grewMiB = rss.stop();
    for (const res of responses) expectRefused(res, 'inflatedSize', 'CUSTOS_EXTRACTION_MAX_INFLATED_BYTES');
    expect(grewMiB, 'RSS growth over the three uploads (MiB)').to.be.below(300);
  });

  it('a DOCX with more zip entries than CUSTOS_EXTRACTION_MAX_ZIP_ENTRIES is 422 (entries)', async function () {
    this.timeout(60_000);
    const max = testContainer().platform.config.extraction.maxZipEntries;
    const filler = Array.from({ length: max }, (_, n) => storedPart(`word/media/f${n}.txt`, ''));
    const docx = docxWith(deflatedPart('word/document.xml', `${DOCUMENT_HEAD}<w:p><w:r><w:t>many parts</w:t></w:r></w:p>${DOCUMENT_TAIL}`), filler);
    expectRefused(await upload(victim, 'entries.docx', docx), 'entries', 'CUSTOS_EXTRACTION_MAX_ZIP_ENTRIES');
  });

  it('a DOCX nesting XML deeper than CUSTOS_EXTRACTION_MAX_XML_DEPTH is 422 (nesting)', async function () {
    this.timeout(60_000);
    const depth = testContainer().platform.config.extraction.maxXmlDepth + 10;
    const nested = `${'<w:p>'.repeat(depth)}<w:r><w:t>deep</w:t></w:r>${'</w:p>'.repeat(depth)}`;
    const docx = docxWith(deflatedPart('word/document.xml', `${DOCUMENT_HEAD}${nested}${DOCUMENT_TAIL}`));
    expectRefused(await upload(victim, 'nested.docx', docx), 'nesting', 'CUSTOS_EXTRACTION_MAX_XML_DEPTH');
  });

  it('a DOCX just within the limits (a comment with tags, "/>" and "<" in attributes) still uploads', async function () {
    this.timeout(60_000);
    const depth = testContainer().platform.config.extraction.maxXmlDepth - 5;
    const xml = `${DOCUMENT_HEAD}<!-- <a><b><c><d><e><f> --><w:p><w:r><w:t a="/>" b='<'>kept</w:t></w:r></w:p>${'<w:sdt>'.repeat(depth)}${'</w:sdt>'.repeat(depth)}${DOCUMENT_TAIL}`;
    const res = await upload(victim, 'fine.docx', docxWith(deflatedPart('word/document.xml', xml)));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect((await api().get(`/api/v1/files/${res.body.id}/text`).set(victim.auth)).body.text).to.equal('kept');
    expect((await api().delete(`/api/v1/files/${res.body.id}`).set(victim.auth)).status).to.equal(204);
  });

  it('a 10,000-page PDF sharing one content stream is 422 (pages) well within the timeout', async function () {
    this.timeout(120_000);
    const pdf = await makeSharedStreamPdf(10_000, 2);
    const { timeoutMs, maxPages } = testContainer().platform.config.extraction;
    expect(maxPages).to.be.below(10_000);
    const started = Date.now();
    const res = await upload(victim, 'pages.pdf', pdf);
    expectRefused(res, 'pages', 'CUSTOS_EXTRACTION_MAX_PAGES');
    expect(res.body.detail).to.contain('10000 pages');
    expect(Date.now() - started).to.be.below(timeoutMs);
  });

  describe('with the page limit raised, so the PDF is really parsed', () => {
    // One worker, no queue, a short timeout: the 10,000 pages take pdf.js far longer than 9 s.
    const own = isolatedApp({
      CUSTOS_EXTRACTION_MAX_PAGES: '20000',
      CUSTOS_EXTRACTION_TIMEOUT_MS: '9000',
      CUSTOS_EXTRACTION_CONCURRENCY: '1',
      CUSTOS_EXTRACTION_QUEUE_LENGTH: '0',
    });
    after(() => own.close());

    it('is 422 (time) when the timeout ends it, while /healthz keeps answering fast and a second upload gets 503', async function () {
      this.timeout(180_000);
      const pdf = await makeSharedStreamPdf(10_000, 2);
      await own.api().get('/healthz'); // warm the app before timing anything
      let finished = false;
      const slow = uploadTo(own.api, victim, 'slow.pdf', pdf).then((res) => { finished = true; return res; });
      // pdf.js reads the document first, then walks the pages: probe in the page walk, which is
      // what held the event loop for minutes when it ran on the API thread.
      await new Promise((resolve) => setTimeout(resolve, 3000));

      const latencies: number[] = [];
      for (let n = 0; n < 20; n += 1) {
        const t = Date.now();
        const res = await own.api().get('/healthz');
        latencies.push(Date.now() - t);
        expect(res.status).to.be.oneOf([200, 503]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(finished, 'the upload was still being extracted while /healthz answered').to.equal(false);
      expect(Math.max(...latencies), `/healthz latencies during the upload: ${latencies.join(', ')} ms`).to.be.below(200);

      const busy = await uploadTo(own.api, victim, 'second.txt', Buffer.from('waits its turn'));
      expect(busy.status, JSON.stringify(busy.body)).to.equal(503);
      expect(busy.headers['retry-after']).to.match(/^\d+$/);
      expect(busy.body.detail).to.contain('CUSTOS_EXTRACTION_CONCURRENCY');

      expectRefused(await slow, 'time', 'CUSTOS_EXTRACTION_TIMEOUT_MS');
    });
  });

  describe('with a small heap cap', () => {
    const own = isolatedApp({ CUSTOS_EXTRACTION_MAX_HEAP_MB: '48' });
    after(() => own.close());

    it('a DOCX whose parse needs more heap than CUSTOS_EXTRACTION_MAX_HEAP_MB is 422 (memory), and the service lives on', async function () {
      this.timeout(120_000);
      const paragraphs = '<w:p><w:r><w:t>row of text that the parser turns into objects</w:t></w:r></w:p>'.repeat(250_000);
      const docx = docxWith(deflatedPart('word/document.xml', `${DOCUMENT_HEAD}${paragraphs}${DOCUMENT_TAIL}`));
      expectRefused(await uploadTo(own.api, victim, 'heavy.docx', docx), 'memory', 'CUSTOS_EXTRACTION_MAX_HEAP_MB');
      const after = await uploadTo(own.api, victim, 'after.txt', Buffer.from('the next upload is fine'));
      expect(after.status, JSON.stringify(after.body)).to.equal(201);
      expect((await own.api().delete(`/api/v1/files/${after.body.id}`).set(victim.auth)).status).to.equal(204);
    });
  });
});
