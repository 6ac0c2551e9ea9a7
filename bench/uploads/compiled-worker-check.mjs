// Runs the COMPILED pool (dist/, after `npm run build`) from plain node, no tsx, to prove the worker
// thread resolves its .js entry in a build: `npm run build && node bench/uploads/compiled-worker-check.mjs`.
import { createExtractionPool } from '../../dist/src/modules/chat/chat-extraction-pool.js';
import { PDFDocument, StandardFonts } from 'pdf-lib';
const limits = { timeoutMs: 20000, maxPages: 2000, maxHeapMb: 256, maxInflatedBytes: 256 << 20, maxZipEntries: 10000, maxXmlDepth: 256 };
const pool = createExtractionPool({ limits, concurrency: 2, queueLength: 2, logger: { warn: (o, m) => console.error(m, o) } });
const doc = await PDFDocument.create();
const font = await doc.embedFont(StandardFonts.Helvetica);
doc.addPage().drawText('Compiled worker says hello', { x: 50, y: 700, font, size: 12 });
const pdf = Buffer.from(await doc.save());
for (let n = 0; n < 3; n += 1) {
  const t = Date.now();
  const text = await pool.extract(n === 0 ? 'pdf' : 'txt', n === 0 ? pdf : Buffer.from('plain text'));
  console.log(JSON.stringify(text), Date.now() - t, 'ms');
}
const many = await PDFDocument.create();
for (let n = 0; n < 2001; n += 1) many.addPage();
try { await pool.extract('pdf', Buffer.from(await many.save())); } catch (e) { console.log(e.status, e.extensions.limit, e.detail); }
