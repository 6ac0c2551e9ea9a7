// Answers a customer's questionnaire in its own file: the same workbook (sheets, rows, columns,
// header, formatting), with only the empty answer cells of recognised questions written. An
// XLSX's unmatched question gets a cell note on its answer cell; a CSV (which has no notes) gets a
// trailing "Custos note" column, added only when something is unmatched. Answer cells that
// already hold a value are never overwritten.
import ExcelJS from 'exceljs';
import { UnprocessableError, UnsupportedMediaTypeError } from '../../platform/http/problem.js';

export type Matcher = (questions: string[]) => Promise<Array<{ answer: { answer: string } | null; flag: string | null }>>;

export interface FillResult { bytes: Buffer; mediaType: string; answered: number; unanswered: number; sheets: number }

const QUESTION_HEADER = /^(question|questions|question text|control question|requirement)$/i;
const ANSWER_HEADER = /^(answer|answers|response|responses|your answer|vendor response)$/i;
const CAIQ_ANSWER_HEADER = /^csp caiq answer$/i;
const CAIQ_DESCRIPTION_HEADER = /^csp implementation description/i;

interface Layout { headerRow: number; question: number; answer: number; description?: number; caiq: boolean }

/** Finds the header row (within the first 20 rows) naming a question column and an answer column. */
function findLayout(rows: string[][]): Layout | null {
  for (let r = 0; r < Math.min(rows.length, 20); r++) {
    const cells = rows[r].map((c) => c.trim());
    const question = cells.findIndex((c) => QUESTION_HEADER.test(c));
    const caiqAnswer = cells.findIndex((c) => CAIQ_ANSWER_HEADER.test(c));
    const answer = caiqAnswer >= 0 ? caiqAnswer : cells.findIndex((c) => ANSWER_HEADER.test(c));
    if (question >= 0 && answer >= 0) {
      const description = cells.findIndex((c) => CAIQ_DESCRIPTION_HEADER.test(c));
      return { headerRow: r, question, answer, description: description >= 0 ? description : undefined, caiq: caiqAnswer >= 0 };
    }
  }
  return null;
}

/** CAIQ v4 answers are Yes / No / NA; the library answer's first word decides, the rest is the description. */
function caiqValue(answer: string): string | null {
  const m = /^(yes|no|n\/?a)\b/i.exec(answer.trim());
  if (!m) return null;
  const word = m[1].toLowerCase();
  return word === 'yes' ? 'Yes' : word === 'no' ? 'No' : 'NA';
}

export async function fillQuestionnaire(fileName: string, bytes: Buffer, match: Matcher): Promise<FillResult> {
  const extension = fileName.split('.').pop()?.toLowerCase();
  if (extension === 'xlsx') return fillWorkbook(bytes, match);
  if (extension === 'csv') return fillCsv(bytes, match);
  throw new UnsupportedMediaTypeError('Send the questionnaire as .xlsx or .csv.');
}

async function fillWorkbook(bytes: Buffer, match: Matcher): Promise<FillResult> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch {
    throw new UnprocessableError('The file is not a readable XLSX workbook.');
  }
  let answered = 0;
  let unanswered = 0;
  let sheets = 0;
  for (const sheet of workbook.worksheets) {
    const grid: string[][] = [];
    for (let r = 1; r <= Math.min(sheet.rowCount, 20); r++) {
      const row = sheet.getRow(r);
      grid.push(Array.from({ length: sheet.columnCount }, (_, c) => row.getCell(c + 1).text ?? ''));
    }
    const layout = findLayout(grid);
    if (!layout) continue;
    sheets += 1;
    const targets: Array<{ row: number; question: string }> = [];
    for (let r = layout.headerRow + 2; r <= sheet.rowCount; r++) {
      const row = sheet.getRow(r);
      const questionCell = row.getCell(layout.question + 1);
      const question = questionCell.text?.trim() ?? '';
      // A formula (a total, a count) or a cell without words is not a question.
      if (!isQuestion(question) || questionCell.type === ExcelJS.ValueType.Formula || row.getCell(layout.answer + 1).text?.trim()) continue;
      targets.push({ row: r, question });
    }
    const results = await match(targets.map((t) => t.question));
    targets.forEach((t, i) => {
      const row = sheet.getRow(t.row);
      const answerCell = row.getCell(layout.answer + 1);
      const result = results[i];
      if (!result.answer) {
        // exceljs drops a note on a cell that has no value; an empty string keeps the cell empty and the note.
        if (answerCell.value === null) answerCell.value = '';
        answerCell.note = `Custos: ${result.flag ?? 'no answer'}`;
        unanswered += 1;
        return;
      }
      const text = result.answer.answer;
      if (layout.caiq) {
        const value = caiqValue(text);
        if (value) answerCell.value = value;
        else {
          if (answerCell.value === null) answerCell.value = '';
          answerCell.note = 'Custos: the library answer is not Yes/No/NA; see the implementation description.';
        }
        if (layout.description !== undefined && !row.getCell(layout.description + 1).text?.trim()) row.getCell(layout.description + 1).value = text;
      } else {
        answerCell.value = text;
      }
      answered += 1;
    });
  }
  if (!sheets) throw new UnprocessableError('No sheet has a header row with a Question column and an Answer/Response (or "CSP CAIQ Answer") column.');
  const out = Buffer.from(await workbook.xlsx.writeBuffer());
  return { bytes: out, mediaType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', answered, unanswered, sheets };
}

/** RFC 4180 parsing: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const isQuestion = (text: string) => /\p{L}{2,}/u.test(text);

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

async function fillCsv(bytes: Buffer, match: Matcher): Promise<FillResult> {
  let text = bytes.toString('utf8');
  const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  text = text.slice(bom.length);
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const trailingNewline = /\r?\n$/.test(text);
  const rows = parseCsv(text);
  const layout = findLayout(rows);
  if (!layout) throw new UnprocessableError('The CSV has no header row with a Question column and an Answer/Response column.');
  const targets = rows.map((r, i) => ({ i, question: (r[layout.question] ?? '').trim() }))
    .filter((t) => t.i > layout.headerRow && isQuestion(t.question) && !(rows[t.i][layout.answer] ?? '').trim());
  const results = await match(targets.map((t) => t.question));
  const notes = new Map<number, string>();
  let answered = 0;
  targets.forEach((t, k) => {
    const result = results[k];
    const row = rows[t.i];
    while (row.length <= layout.answer) row.push('');
    if (result.answer) {
      row[layout.answer] = layout.caiq ? caiqValue(result.answer.answer) ?? '' : result.answer.answer;
      if (layout.caiq && layout.description !== undefined) row[layout.description] ||= result.answer.answer;
      answered += 1;
    } else notes.set(t.i, result.flag ?? 'no answer');
  });
  if (notes.size) {
    const width = Math.max(...rows.map((r) => r.length));
    rows.forEach((r, i) => {
      if (i < layout.headerRow) return;
      while (r.length < width) r.push('');
      r.push(i === layout.headerRow ? 'Custos note' : notes.get(i) ?? '');
    });
  }
  const out = bom + rows.map((r) => r.map(csvField).join(',')).join(newline) + (trailingNewline ? newline : '');
  return { bytes: Buffer.from(out, 'utf8'), mediaType: 'text/csv; charset=utf-8', answered, unanswered: notes.size, sheets: 1 };
}
