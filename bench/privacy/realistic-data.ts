// Deterministic, realistic-looking content for the export benchmark (issue 15): chat messages of
// varied words and lengths with some non-ASCII, and files of several types and sizes. A seeded
// PRNG makes every run (and the floor) see the same bytes; 400 × "x" compressed ~100:1 and
// flattered every stage that compresses.
import { PDFDocument, StandardFonts } from 'pdf-lib';

/** mulberry32: small, fast, good enough to vary text; not for anything secret. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const common = ('the a to of and in is it you that for on with as are this be can or have not your from at by an will my how what which do if we use so all when one there more about would like should get make need data key file than time also other into just some any only then its new way could these them see work because our well first may here such where even back want each over both most without run test user model code error case value thanks please sure yes no why').split(' ');
const technical = ('PostgreSQL Redis encryption export request deployment latency throughput function parameter configuration certificate rotation backup migration endpoint token session database cluster replica payload response gateway provider invoice schedule retention compliance dashboard').split(' ');
// Some non-ASCII, as real chats have: accents, German, CJK, Cyrillic, emoji.
const international = ('café naïve déjà Straße Größe über façade résumé 数据 加密 导出 Привет данные ключ ありがとう 안녕하세요 🙂 👍 🚀 ✅ € £ — “quoted” …').split(' ');

export function sentence(random: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i += 1) {
    const r = random();
    const pool = r < 0.78 ? common : r < 0.95 ? technical : international;
    let word = pool[Math.floor(random() * pool.length)];
    if (random() < 0.04) word = `${word}${Math.floor(random() * 10_000)}`;
    out.push(i === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : word);
  }
  return `${out.join(' ')}${random() < 0.8 ? '.' : '?'}`;
}

/** A message: users write short, assistants longer; ~20 to ~3,000 characters, median ~300. */
export function messageText(random: () => number, role: 'user' | 'assistant'): string {
  const sentences = role === 'user' ? 1 + Math.floor(random() * random() * 6) : 2 + Math.floor(random() * random() * 30);
  const parts: string[] = [];
  for (let i = 0; i < sentences; i += 1) parts.push(sentence(random, 4 + Math.floor(random() * 18)));
  if (role === 'assistant' && random() < 0.15) parts.push(`\n\n\`\`\`ts\nconst value${Math.floor(random() * 100)} = await client.${technical[Math.floor(random() * technical.length)].toLowerCase()}();\n\`\`\``);
  return parts.join(random() < 0.2 ? '\n\n' : ' ');
}

function textOfSize(random: () => number, bytes: number, line: () => string): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const next = line();
    lines.push(next);
    size += Buffer.byteLength(next) + 1;
  }
  return lines.join('\n');
}

/** File i of a user's library: txt, md, csv and pdf, 1 KiB to ~1 MiB (log-uniform). */
export async function libraryFile(random: () => number, i: number): Promise<{ fileName: string; bytes: Buffer }> {
  const size = Math.round(1024 * 2 ** (random() * 10));
  const kind = ['txt', 'md', 'csv', 'pdf'][i % 4];
  if (kind === 'csv') {
    let row = 0;
    return { fileName: `report-${i}.csv`, bytes: Buffer.from(textOfSize(random, size, () => (row++ === 0 ? 'date,account,amount,description' : `2026-${1 + (row % 12)}-${1 + (row % 28)},${Math.floor(random() * 1e6)},${(random() * 1000).toFixed(2)},"${sentence(random, 3 + Math.floor(random() * 5))}"`))) };
  }
  if (kind === 'md') return { fileName: `notes-${i}.md`, bytes: Buffer.from(textOfSize(random, size, () => (random() < 0.1 ? `## ${sentence(random, 4)}` : sentence(random, 8 + Math.floor(random() * 20))))) };
  if (kind === 'txt') return { fileName: `letter-${i}.txt`, bytes: Buffer.from(textOfSize(random, size, () => sentence(random, 6 + Math.floor(random() * 20)))) };
  // PDF: compressed content streams, so the zip gains little on these, as on real PDFs.
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  const pages = Math.max(1, Math.round(size / 3000));
  for (let p = 0; p < pages; p += 1) {
    const page = pdf.addPage([595, 842]);
    for (let l = 0; l < 40; l += 1) {
      // WinAnsi only: the standard font cannot draw CJK or emoji.
      page.drawText(sentence(random, 10).replace(/[^\x20-\x7e]/g, '?'), { x: 40, y: 800 - l * 19, size: 10, font });
    }
  }
  return { fileName: `scan-${i}.pdf`, bytes: Buffer.from(await pdf.save()) };
}
