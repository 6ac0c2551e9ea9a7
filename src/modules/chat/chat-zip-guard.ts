// Zip-bomb guard for DOCX/XLSX, run before mammoth or exceljs (both JSZip) see the file. The sizes a
// zip declares are the attacker's to choose, so they are never believed: every entry is inflated
// here, through a byte counter that stops at the limit, and its XML is scanned for nesting depth
// as it streams. Nothing inflated is kept, so memory stays at one zlib window and one chunk.
import { createInflateRaw } from 'node:zlib';
import { ExtractionRefusal, type ExtractionLimits } from './chat-extraction-limits.js';

const EOCD = 0x06054b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

interface ZipEntry {
  name: string;
  method: number;
  /** Where the entry's data begins (after its local header), the only offset a reader trusts. */
  dataStart: number;
  compressedSize: number;
}

export class DamagedZipError extends Error {}

/**
 * The central directory's entries (APPNOTE 4.3.12/4.3.16), each checked against its local header.
 * ZIP64 and methods other than store/deflate are refused: JSZip reads nothing else, and no upload
 * under the size limit needs them.
 */
function zipEntries(bytes: Buffer, maxEntries: number): ZipEntry[] {
  const floor = Math.max(0, bytes.length - 22 - 0xffff);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= floor; i -= 1) {
    if (bytes.readUInt32LE(i) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new DamagedZipError('its zip directory is missing');
  const count = bytes.readUInt16LE(eocd + 10);
  if (count > maxEntries) throw new ExtractionRefusal('entries', `it holds ${count} zip entries, more than the ${maxEntries} allowed (CUSTOS_EXTRACTION_MAX_ZIP_ENTRIES)`);
  let offset = bytes.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n += 1) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== CENTRAL_HEADER) throw new DamagedZipError('its zip directory is damaged');
    const method = bytes.readUInt16LE(offset + 10);
    const compressedSize = bytes.readUInt32LE(offset + 20);
    const nameLength = bytes.readUInt16LE(offset + 28);
    const localAt = bytes.readUInt32LE(offset + 42);
    if (compressedSize === 0xffffffff || localAt === 0xffffffff) throw new DamagedZipError('it uses ZIP64, which is not supported');
    const name = bytes.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + bytes.readUInt16LE(offset + 30) + bytes.readUInt16LE(offset + 32);
    if (localAt + 30 > bytes.length || bytes.readUInt32LE(localAt) !== LOCAL_HEADER) throw new DamagedZipError('a zip entry has no local header');
    if (bytes.readUInt16LE(localAt + 8) !== method) throw new DamagedZipError('a zip entry declares two compression methods');
    if (method !== STORED && method !== DEFLATED) throw new DamagedZipError(`a zip entry uses compression method ${method}`);
    const dataStart = localAt + 30 + bytes.readUInt16LE(localAt + 26) + bytes.readUInt16LE(localAt + 28);
    if (dataStart > bytes.length || (method === STORED && dataStart + compressedSize > bytes.length)) throw new DamagedZipError('a zip entry runs past the end of the file');
    entries.push({ name, method, dataStart, compressedSize });
  }
  return entries;
}

/**
 * Tracks element depth across chunks: `<name` opens, `</` and `/>` close; comments, CDATA,
 * processing instructions and declarations are skipped, and quotes inside tags are honoured.
 */
export class XmlDepthMeter {
  depth = 0;
  private state: 'text' | 'open' | 'tag' | 'close' | 'bang' | 'declaration' | 'skip' = 'text';
  private quote = 0;
  private previous = 0;
  private brackets = 0;
  private seen = '';
  private until = '';

  constructor(private readonly maxDepth: number) {}

  feed(chunk: Buffer) {
    for (let i = 0; i < chunk.length; i += 1) {
      if (this.state === 'text') { // the common case: jump to the next tag
        i = chunk.indexOf(0x3c /* < */, i);
        if (i < 0) { this.previous = chunk[chunk.length - 1]; return; }
      }
      this.step(chunk[i]);
    }
  }

  private step(c: number) {
    const ch = String.fromCharCode(c);
    switch (this.state) {
      case 'text':
        if (ch === '<') this.state = 'open';
        break;
      case 'open':
        if (ch === '/') this.state = 'close';
        else if (ch === '?') this.skip('?>');
        else if (ch === '!') { this.state = 'bang'; this.seen = ''; }
        else { this.open(); this.state = 'tag'; }
        break;
      case 'tag':
        if (this.quote) { if (c === this.quote) this.quote = 0; }
        else if (ch === '"' || ch === "'") this.quote = c;
        else if (ch === '>') { if (this.previous === 0x2f /* / */) this.depth -= 1; this.state = 'text'; }
        break;
      case 'close':
        if (ch === '>') { this.depth -= 1; this.state = 'text'; }
        break;
      case 'bang':
        this.seen += ch;
        if (this.seen === '--') this.skip('-->');
        else if (this.seen === '[CDATA[') this.skip(']]>');
        else if (!'--'.startsWith(this.seen) && !'[CDATA['.startsWith(this.seen)) { this.state = 'declaration'; this.brackets = 0; this.step(c); }
        break;
      case 'declaration': // <!DOCTYPE …[ internal subset ]>
        if (ch === '[') this.brackets += 1;
        else if (ch === ']') this.brackets -= 1;
        else if (ch === '>' && this.brackets <= 0) this.state = 'text';
        break;
      case 'skip':
        this.seen = (this.seen + ch).slice(-this.until.length);
        if (this.seen === this.until) this.state = 'text';
        break;
    }
    this.previous = c;
  }

  private open() {
    this.depth += 1;
    if (this.depth > this.maxDepth) throw new ExtractionRefusal('nesting', `its XML nests elements more than ${this.maxDepth} deep (CUSTOS_EXTRACTION_MAX_XML_DEPTH)`);
  }

  private skip(until: string) {
    this.state = 'skip';
    this.until = until;
    this.seen = '';
  }
}

const isXml = (name: string) => /\.(xml|rels|vml)$/i.test(name);

/** Inflates one deflated entry, counting; rejects at the budget whatever the headers said. */
function inflateCounted(data: Buffer, budget: number, onChunk: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let inflated = 0;
    const inflater = createInflateRaw({ chunkSize: 64 * 1024 });
    inflater.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      try {
        if (inflated > budget) throw new ExtractionRefusal('inflatedSize', 'inflated');
        onChunk(chunk);
      } catch (error) {
        inflater.destroy(error as Error);
      }
    });
    inflater.on('error', (error) => reject(error instanceof ExtractionRefusal ? error : new DamagedZipError('a zip entry does not inflate')));
    inflater.on('end', () => resolve(inflated));
    // From the entry's data start to the end of the file: a deflate stream ends itself, so a lying
    // compressed size can only make a reader see less than this, never more.
    inflater.end(data);
  });
}

/** Refuses a zip whose real inflated size, entry count or XML nesting is beyond the limits. */
export async function checkZipLimits(bytes: Buffer, limits: Pick<ExtractionLimits, 'maxInflatedBytes' | 'maxZipEntries' | 'maxXmlDepth'>): Promise<void> {
  const entries = zipEntries(bytes, limits.maxZipEntries);
  let total = 0;
  const overBudget = () => new ExtractionRefusal('inflatedSize', `it inflates to more than ${limits.maxInflatedBytes} bytes (CUSTOS_EXTRACTION_MAX_INFLATED_BYTES), whatever its zip headers declare`);
  for (const entry of entries) {
    const meter = isXml(entry.name) ? new XmlDepthMeter(limits.maxXmlDepth) : undefined;
    const budget = limits.maxInflatedBytes - total;
    if (entry.method === STORED) {
      if (entry.compressedSize > budget) throw overBudget();
      meter?.feed(bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize));
      total += entry.compressedSize;
      continue;
    }
    try {
      total += await inflateCounted(bytes.subarray(entry.dataStart), budget, (chunk) => meter?.feed(chunk));
    } catch (error) {
      if (error instanceof ExtractionRefusal && error.limit === 'inflatedSize') throw overBudget();
      throw error;
    }
  }
}
