// File fixtures built by the tests themselves, with independent writers (pdf-lib, exceljs, a
// hand-assembled OOXML zip), so extraction is checked against files the app did not produce.
import ExcelJS from 'exceljs';
import { PDFDocument, PDFName, PDFPageLeaf, type PDFRef, StandardFonts } from 'pdf-lib';
import { ZipArchive } from 'archiver';
import { Readable } from 'node:stream';

export async function makePdf(lines: string[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage();
  lines.forEach((line, i) => page.drawText(line, { x: 50, y: 700 - i * 20, font, size: 12 }));
  doc.addPage().drawText('Page two says goodbye', { x: 50, y: 700, font, size: 12 });
  return Buffer.from(await doc.save());
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The smallest DOCX Word and mammoth accept: content types, the package relationship, one document part. */
export async function makeDocx(paragraphs: string[], options: { zeroPaddingBytes?: number } = {}): Promise<Buffer> {
  const zip = new ZipArchive({ zlib: { level: 6 } });
  const parts: Buffer[] = [];
  zip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise<void>((resolve, reject) => { zip.on('end', () => resolve()); zip.on('error', reject); });
  zip.append(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>`, { name: '[Content_Types].xml' });
  zip.append(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>`, { name: '_rels/.rels' });
  zip.append(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
${paragraphs.map((p) => `<w:p><w:r><w:t xml:space="preserve">${xmlEscape(p)}</w:t></w:r></w:p>`).join('\n')}
</w:body></w:document>`, { name: 'word/document.xml' });
  if (options.zeroPaddingBytes) {
    // A zip bomb: megabytes of zeros deflate to almost nothing.
    const chunk = Buffer.alloc(1024 * 1024);
    let left = options.zeroPaddingBytes;
    const zeros = new Readable({ read() { if (left <= 0) { this.push(null); return; } const n = Math.min(left, chunk.length); left -= n; this.push(chunk.subarray(0, n)); } });
    zip.append(zeros, { name: 'word/media/padding.bin' });
  }
  await zip.finalize();
  await done;
  return Buffer.concat(parts);
}

export async function makeXlsx(sheets: Record<string, Array<Array<string | number>>>): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  for (const [name, rows] of Object.entries(sheets)) {
    const sheet = workbook.addWorksheet(name);
    for (const row of rows) sheet.addRow(row);
  }
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

/**
 * A PDF whose `pages` pages all point at one shared content stream: small on disk, but each page
 * makes a parser walk the page tree and the stream again (the upload that froze the event loop).
 */
export async function makeSharedStreamPdf(pages: number, streamLines = 40): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const lines = Array.from({ length: streamLines }, (_, i) => `BT /F1 10 Tf 40 ${760 - (i % 70) * 10} Td (Shared line ${i} of one content stream) Tj ET`);
  const contents = doc.context.register(doc.context.stream(lines.join('\n')));
  const resources = doc.context.register(doc.context.obj({ Font: { F1: font.ref } }));
  // Leaves pushed straight onto the root's Kids: doc.addPage re-walks the tree for every page.
  const treeRef = doc.catalog.get(PDFName.of('Pages')) as PDFRef;
  const tree = doc.catalog.Pages();
  for (let n = 0; n < pages; n += 1) {
    const leaf = PDFPageLeaf.withContextAndParent(doc.context, treeRef);
    leaf.set(PDFName.of('MediaBox'), doc.context.obj([0, 0, 612, 792]));
    leaf.set(PDFName.of('Resources'), resources);
    leaf.set(PDFName.of('Contents'), contents);
    tree.pushLeafNode(doc.context.register(leaf));
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}
