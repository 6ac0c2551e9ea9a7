// Text extraction for uploaded files, in Custos' own worker threads (chat-extraction-pool.ts). No
// byte ever leaves the service: PDF via Mozilla's pdf.js (pdfjs-dist, with eval disabled), DOCX via
// mammoth, XLSX via exceljs, and the plain-text kinds through a strict UTF-8 decoder. The kind comes from the file name's extension and must be
// confirmed by the content (magic bytes / valid UTF-8), so a mislabelled file is rejected rather
// than half-parsed.
import type ExcelJS from 'exceljs';
import { UnprocessableError, UnsupportedMediaTypeError } from '../../platform/http/problem.js';
import { ExtractionRefusal, type ExtractionLimits } from './chat-extraction-limits.js';
import type { FileKind } from './chat-types.js';
import { checkZipLimits, DamagedZipError } from './chat-zip-guard.js';

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
async function checkZip(kind: FileKind, bytes: Buffer, limits: ExtractionLimits) {
  if (!bytes.subarray(0, 4).equals(ZIP_MAGIC)) throw corrupt(kind, `it is not a ${kind.toUpperCase()} (zip) container`);
  try {
    await checkZipLimits(bytes, limits);
  } catch (error) {
    if (error instanceof DamagedZipError) throw corrupt(kind, error.message);
    throw error;
  }
}

async function pdfText(bytes: Buffer, limits: ExtractionLimits): Promise<string> {
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
  if (document.numPages > limits.maxPages) {
    await document.destroy();
    throw new ExtractionRefusal('pages', `it has ${document.numPages} pages, more than the ${limits.maxPages} allowed (CUSTOS_EXTRACTION_MAX_PAGES)`);
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

async function docxText(bytes: Buffer, limits: ExtractionLimits): Promise<string> {
  await checkZip('docx', bytes, limits);
  try {
    const { default: mammoth } = await import('mammoth'); // loaded per kind: each worker starts cold
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

async function xlsxText(bytes: Buffer, limits: ExtractionLimits): Promise<string> {
  await checkZip('xlsx', bytes, limits);
  const { default: Excel } = await import('exceljs');
  const workbook = new Excel.Workbook();
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

/**
 * Runs inside an extraction worker (chat-extraction-worker.ts), never on the API's event loop:
 * the page, inflation, entry and nesting limits are checked here, time and heap by the pool.
 */
export async function extractText(kind: FileKind, bytes: Buffer, limits: ExtractionLimits): Promise<string> {
  let text: string;
  switch (kind) {
    case 'pdf': text = await pdfText(bytes, limits); break;
    case 'docx': text = await docxText(bytes, limits); break;
    case 'xlsx': text = await xlsxText(bytes, limits); break;
    default: text = plainText(kind, bytes);
  }
  if (text.length > MAX_TEXT_CHARS) throw corrupt(kind, `it holds more than ${MAX_TEXT_CHARS} characters of text`);
  return text;
}
