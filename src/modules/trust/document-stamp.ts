// Marks a restricted document's copy with the access grant it was issued under, inside the file
// (a header or a file name is gone once the copy is forwarded): the metadata a document tool
// shows, and a visible line a reader sees. A leaked copy then names the grant, and the grant
// names the requester, the NDA acceptance and every download (document_downloads).
//   PDF: Info dictionary (Subject, Keywords, a CustosGrantee key) and a footer line on every page.
//   DOCX / XLSX: docProps/core.xml (subject, keywords); DOCX a last paragraph, XLSX a footer on
//   every sheet (shown in page layout and print). ZIP: a CUSTOS-GRANT.txt entry and the archive
//   comment. TXT / MD / CSV: a closing line.
// Anything the stamper cannot open is refused at upload, never served unmarked. It runs in a
// worker thread (document-stamp-pool.ts).
import JSZip from 'jszip';
import { type PDFDict, PDFDocument, PDFName, PDFString, StandardFonts, rgb } from 'pdf-lib';

export interface GrantMark { grantId: string; company: string; issuedAt: Date }

// The company is the requester's own text (up to 200 characters): cut, so the line fits an XLSX footer (255 characters).
const company = (name: string) => (name.length > 60 ? `${name.slice(0, 59)}…` : name);
const line = (m: GrantMark) => `Confidential. Issued to ${company(m.company)} under access grant ${m.grantId} on ${m.issuedAt.toISOString().slice(0, 10)}; do not redistribute.`;
// The PDF standard fonts encode WinAnsi only: anything else in a company name becomes '?'.
const winAnsi = (text: string) => text.replace(/[^\x20-\x7E\xA0-\xFF]/g, '?');
const xml = (text: string) => text.replace(/[<>&"']/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);

export async function stampDocument(extension: string, bytes: Buffer, mark: GrantMark): Promise<Buffer> {
  switch (extension) {
    case 'pdf': return stampPdf(bytes, mark);
    case 'docx': return stampOffice(bytes, mark, 'word');
    case 'xlsx': return stampOffice(bytes, mark, 'xl');
    case 'zip': return stampZip(bytes, mark);
    case 'txt': case 'md': case 'csv': {
      const text = bytes.toString('utf8');
      const newline = text.includes('\r\n') ? '\r\n' : '\n';
      const closing = extension === 'csv' ? `"${line(mark).replace(/"/g, '""')}"` : extension === 'md' ? `---${newline}${newline}*${line(mark)}*` : line(mark);
      return Buffer.from(`${text}${text === '' || text.endsWith('\n') ? '' : newline}${extension === 'csv' ? '' : newline}${closing}${newline}`, 'utf8');
    }
    default: throw new Error(`no stamper for .${extension}`);
  }
}

async function stampPdf(bytes: Buffer, mark: GrantMark): Promise<Buffer> {
  // An encrypted PDF cannot be rewritten without its password: pdf-lib throws, and upload refuses it.
  const pdf = await PDFDocument.load(bytes, { updateMetadata: false });
  const text = winAnsi(line(mark));
  pdf.setSubject(text);
  pdf.setKeywords([...(pdf.getKeywords()?.split(/\s*[,;]\s*|\s+/).filter(Boolean) ?? []), `custos-grant:${mark.grantId}`]);
  // A key of our own in the Info dictionary (ISO 32000-1, 14.3.3 allows any); pdf-lib keeps getInfoDict private.
  (pdf as unknown as { getInfoDict(): PDFDict }).getInfoDict().set(PDFName.of('CustosGrantee'), PDFString.of(mark.grantId));
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const page of pdf.getPages()) {
    // The visible area may not start at the origin (a CropBox offset): place the line inside it.
    const box = page.getCropBox();
    const size = Math.max(5, Math.min(8, (box.width - 40) / font.widthOfTextAtSize(text, 1)));
    page.drawText(text, { x: box.x + 20, y: box.y + 12, size, font, color: rgb(0.45, 0.45, 0.45) });
  }
  return Buffer.from(await pdf.save());
}

const CORE = 'docProps/core.xml';
const CORE_TYPE = 'application/vnd.openxmlformats-package.core-properties+xml';
const CORE_REL = 'http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties';

/** Sets (or adds) an element of core.xml, keeping everything else of the file as it was. */
function setCoreElement(core: string, tag: 'dc:subject' | 'cp:keywords', value: string, append: boolean): string {
  const existing = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>|<${tag}(?:\\s[^>]*)?/>`).exec(core);
  const previous = existing?.[1] ?? '';
  const content = append && previous ? `${previous} ${xml(value)}` : xml(value);
  const element = `<${tag}>${content}</${tag}>`;
  return existing ? core.replace(existing[0], element) : core.replace(/<\/cp:coreProperties>\s*$/, `${element}</cp:coreProperties>`);
}

async function ensureCore(zip: JSZip): Promise<string> {
  const core = await zip.file(CORE)?.async('string');
  if (core) return core;
  const types = await zip.file('[Content_Types].xml')?.async('string');
  const rels = await zip.file('_rels/.rels')?.async('string');
  if (!types || !rels) throw new Error('not an Office Open XML package');
  zip.file('[Content_Types].xml', types.replace('</Types>', `<Override PartName="/${CORE}" ContentType="${CORE_TYPE}"/></Types>`));
  zip.file('_rels/.rels', rels.replace('</Relationships>', `<Relationship Id="rIdCustosCore" Type="${CORE_REL}" Target="${CORE}"/></Relationships>`));
  return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"></cp:coreProperties>';
}

// CT_Worksheet's children after headerFooter (ECMA-376 Part 1, 18.3.1.99): the footer goes before the first present.
const AFTER_HEADER_FOOTER = ['rowBreaks', 'colBreaks', 'customProperties', 'cellWatches', 'ignoredErrors', 'smartTags', 'drawing', 'legacyDrawing', 'legacyDrawingHF', 'drawingHF', 'picture', 'oleObjects', 'controls', 'webPublishItems', 'tableParts', 'extLst'];

function footSheet(sheet: string, text: string): string {
  // &C centres; a literal & in the text is written && (18.3.1.46). Existing footers keep their content.
  const footer = `&amp;C${xml(text).replace(/&amp;/g, '&amp;&amp;')}`;
  const existing = /<headerFooter(?:\s[^>]*)?>[\s\S]*?<\/headerFooter>|<headerFooter(?:\s[^>]*)?\/>/.exec(sheet);
  if (existing) {
    const open = /^<headerFooter[^>]*?\/?>/.exec(existing[0])![0].replace(/\/>$/, '>');
    const body = existing[0].endsWith('/>') ? '' : existing[0].slice(open.length, -'</headerFooter>'.length);
    const odd = /<oddFooter>([\s\S]*?)<\/oddFooter>/.exec(body);
    // Excel refuses a footer over 255 characters; then the grant line replaces the file's own footer.
    const fits = odd && odd[1].replace(/&[a-z]+;/g, '_').length + footer.replace(/&[a-z]+;/g, '_').length <= 255;
    const next = odd ? body.replace(odd[0], `<oddFooter>${fits ? odd[1] : ''}${footer}</oddFooter>`) : body.replace(/(<oddHeader>[\s\S]*?<\/oddHeader>)?/, (h) => `${h}<oddFooter>${footer}</oddFooter>`);
    return sheet.replace(existing[0], `${open}${next}</headerFooter>`);
  }
  const element = `<headerFooter><oddFooter>${footer}</oddFooter></headerFooter>`;
  for (const tag of AFTER_HEADER_FOOTER) {
    const at = sheet.search(new RegExp(`<${tag}[\\s/>]`));
    if (at >= 0) return sheet.slice(0, at) + element + sheet.slice(at);
  }
  return sheet.replace(/<\/worksheet>\s*$/, `${element}</worksheet>`);
}

async function stampOffice(bytes: Buffer, mark: GrantMark, root: 'word' | 'xl'): Promise<Buffer> {
  const zip = await JSZip.loadAsync(bytes);
  const text = line(mark);
  let core = await ensureCore(zip);
  core = setCoreElement(core, 'dc:subject', text, false);
  core = setCoreElement(core, 'cp:keywords', `custos-grant:${mark.grantId}`, true);
  zip.file(CORE, core);
  if (root === 'word') {
    const document = await zip.file('word/document.xml')?.async('string');
    if (!document) throw new Error('no word/document.xml');
    const paragraph = `<w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:color w:val="737373"/><w:sz w:val="16"/></w:rPr><w:t xml:space="preserve">${xml(text)}</w:t></w:r></w:p>`;
    // The body's own sectPr is its last child; paragraphs go before it.
    const end = document.lastIndexOf('</w:body>');
    if (end < 0) throw new Error('no w:body');
    const sect = document.lastIndexOf('<w:sectPr', end);
    const lastParagraphEnd = document.lastIndexOf('</w:p>', end);
    const at = sect > lastParagraphEnd ? sect : end;
    zip.file('word/document.xml', document.slice(0, at) + paragraph + document.slice(at));
  } else {
    const sheets = Object.keys(zip.files).filter((name) => /^xl\/worksheets\/[^/]+\.xml$/.test(name));
    if (!sheets.length) throw new Error('no worksheets');
    for (const name of sheets) zip.file(name, footSheet(await zip.file(name)!.async('string'), text));
  }
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

async function stampZip(bytes: Buffer, mark: GrantMark): Promise<Buffer> {
  const zip = await JSZip.loadAsync(bytes);
  zip.file('CUSTOS-GRANT.txt', `${line(mark)}\n`);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', comment: line(mark) });
}
