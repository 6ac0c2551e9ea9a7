// In-process text extraction for uploaded files. No byte ever leaves the service: PDF via Mozilla's
// pdf.js (pdfjs-dist, with eval disabled), DOCX via mammoth, XLSX via exceljs, and the plain-text
// kinds through a strict UTF-8 decoder. The kind comes from the file name's extension and must be
// confirmed by the content (magic bytes / valid UTF-8), so a mislabelled file is rejected rather
// than half-parsed.
import ExcelJS from 'exceljs';
import mammoth from 'mammoth';
import { UnprocessableError, UnsupportedMediaTypeError } from '../../platform/http/problem.js';
import type { FileKind } from './chat-types.js';

const KINDS: Record<string, { kind: FileKind; mediaType: string }> = {
  pdf: { kind: 'pdf', mediaType: 'application/pdf' },
  docx: { kind: 'docx', mediaType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' },
  xlsx: { kind: 'xlsx', mediaType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  csv: { kind: 'csv', mediaType: 'text/csv' },
  txt: { kind: 'txt', mediaType: 'text/plain' },
  md: { kind: 'markdown', mediaType: 'text/markdown' },
  markdown: { kind: 'markdown', mediaType: 'text/markdown' },
};

/** Extracted text beyond this many characters is refused (a zip bomb or a runaway sheet). */
export const MAX_TEXT_CHARS = 5_000_000;

export const SUPPORTED_EXTENSIONS = Object.keys(KINDS);

export function detectKind(fileName: string): { kind: FileKind; mediaType: string } {
  const extension = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  const known = extension ? KINDS[extension] : undefined;
  if (!known) {
    throw new UnsupportedMediaTypeError(
      `Files of this type are not supported. Upload one of: ${SUPPORTED_EXTENSIONS.map((e) => `.${e}`).join(', ')} (PDF, DOCX, XLSX, CSV, TXT, Markdown).`,
    );
  }
  return known;
}

const corrupt = (kind: FileKind, why: string) =>
  new UnprocessableError(`The file could not be read as ${kind.toUpperCase()}: ${why}. Nothing was stored; check the file opens in its usual application and upload it again.`);

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
/** DOCX/XLSX are zips: a few MiB can inflate to many GiB (a zip bomb) inside mammoth or exceljs. */
export const MAX_EXPANDED_BYTES = 256 * 1024 * 1024;

/**
 * Sum of the uncompressed sizes the zip's central directory declares (APPNOTE 4.3.12/4.3.16),
 * checked before any inflation. ZIP64 entries (sizes of 0xFFFFFFFF) count as over the limit:
 * no legitimate upload under the size limit needs them.
 */
function zipExpandedSize(bytes: Buffer): number | undefined {
  const floor = Math.max(0, bytes.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= floor; i -= 1) {
    if (bytes.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) return undefined;
  const entries = bytes.readUInt16LE(eocd + 10);
  let offset = bytes.readUInt32LE(eocd + 16);
  let total = 0;
  for (let n = 0; n < entries; n += 1) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== 0x02014b50) return undefined;
    const size = bytes.readUInt32LE(offset + 24);
    total += size === 0xffffffff ? Number.POSITIVE_INFINITY : size;
    offset += 46 + bytes.readUInt16LE(offset + 28) + bytes.readUInt16LE(offset + 30) + bytes.readUInt16LE(offset + 32);
  }
  return total;
}

function checkZip(kind: FileKind, bytes: Buffer) {
  if (!bytes.subarray(0, 4).equals(ZIP_MAGIC)) throw corrupt(kind, `it is not a ${kind.toUpperCase()} (zip) container`);
  const expanded = zipExpandedSize(bytes);
  if (expanded === undefined) throw corrupt(kind, 'its zip directory is damaged');
  if (expanded > MAX_EXPANDED_BYTES) throw corrupt(kind, `it would expand to more than ${MAX_EXPANDED_BYTES} bytes`);
}

async function pdfText(bytes: Buffer): Promise<string> {
  if (!bytes.subarray(0, 1024).includes('%PDF-')) throw corrupt('pdf', 'it has no PDF header');
  // Loaded lazily: pdf.js is large and only uploads need it.
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  let document;
  try {
    document = await pdfjs.getDocument({
      data: new Uint8Array(bytes),
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      stopAtErrors: true,
      verbosity: 0,
    }).promise;
  } catch (error) {
    if ((error as Error).name === 'PasswordException') throw corrupt('pdf', 'it is password-protected');
    throw corrupt('pdf', 'its structure is invalid');
  }
  try {
    const pages: string[] = [];
    for (let n = 1; n <= document.numPages; n += 1) {
      const page = await document.getPage(n);
      const content = await page.getTextContent();
      pages.push(content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join('').trim());
      page.cleanup();
    }
    return pages.join('\n\n');
  } catch {
    throw corrupt('pdf', 'a page could not be read');
  } finally {
    await document.destroy();
  }
}

async function docxText(bytes: Buffer): Promise<string> {
  checkZip('docx', bytes);
  try {
    const result = await mammoth.extractRawText({ buffer: bytes });
    return result.value.trim();
  } catch {
    throw corrupt('docx', 'its document part is missing or invalid');
  }
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object') return String(value);
  if ('richText' in value) return value.richText.map((r) => r.text).join('');
  if ('text' in value) return String(value.text);
  if ('result' in value) return value.result === undefined ? '' : cellText(value.result as ExcelJS.CellValue);
  if ('error' in value) return String(value.error);
  return '';
}

async function xlsxText(bytes: Buffer): Promise<string> {
  checkZip('xlsx', bytes);
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch {
    throw corrupt('xlsx', 'its workbook part is missing or invalid');
  }
  // One block per sheet, one line per row, cells separated by tabs: readable and greppable.
  const sheets: string[] = [];
  let chars = 0;
  workbook.eachSheet((sheet) => {
    const lines = [`# ${sheet.name}`];
    sheet.eachRow((row) => {
      const values = Array.isArray(row.values) ? row.values.slice(1) : [];
      const line = values.map((v) => cellText(v as ExcelJS.CellValue)).join('\t');
      chars += line.length;
      if (chars > MAX_TEXT_CHARS) throw corrupt('xlsx', `it holds more than ${MAX_TEXT_CHARS} characters of text`);
      lines.push(line);
    });
    sheets.push(lines.join('\n'));
  });
  return sheets.join('\n\n');
}

function plainText(kind: FileKind, bytes: Buffer): string {
  if (bytes.includes(0)) throw corrupt(kind, 'it contains binary data');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw corrupt(kind, 'it is not valid UTF-8 text');
  }
}

export async function extractText(kind: FileKind, bytes: Buffer): Promise<string> {
  let text: string;
  switch (kind) {
    case 'pdf': text = await pdfText(bytes); break;
    case 'docx': text = await docxText(bytes); break;
    case 'xlsx': text = await xlsxText(bytes); break;
    default: text = plainText(kind, bytes);
  }
  if (text.length > MAX_TEXT_CHARS) throw corrupt(kind, `it holds more than ${MAX_TEXT_CHARS} characters of text`);
  return text;
}
