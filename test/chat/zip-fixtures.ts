// Hand-written zips for the upload-limit tests: the bytes are laid out here (APPNOTE 4.3), so an
// entry can declare any size it likes, which is what a real zip bomb does.
import { constants, crc32, deflateRawSync } from 'node:zlib';

export interface ZipPart {
  name: string;
  /** Deflated data, as segments (one Buffer may repeat many times: that is the bomb). */
  deflated?: Buffer[];
  /** Stored (method 0) data. */
  stored?: Buffer;
  crc: number;
  realSize: number;
  /** What the local header and the central directory claim; the real size when absent. */
  declaredSize?: number;
}

export function deflatedPart(name: string, content: string): ZipPart {
  const bytes = Buffer.from(content, 'utf8');
  return { name, deflated: [deflateRawSync(bytes)], crc: crc32(bytes), realSize: bytes.length };
}

export function storedPart(name: string, content: string): ZipPart {
  const bytes = Buffer.from(content, 'utf8');
  return { name, stored: bytes, crc: crc32(bytes), realSize: bytes.length };
}

/**
 * A deflate stream for head + body × repeat + tail, built without ever holding the payload: each
 * segment is compressed on its own with a full flush (byte-aligned, no back-references), so the
 * same compressed segment can be repeated, and only the tail's block is final (RFC 1951 3.2.3).
 */
export function repeatedDeflate(head: string, body: Buffer, repeat: number, tail: string): { deflated: Buffer[]; realSize: number; crc: number } {
  const flush = { finishFlush: constants.Z_FULL_FLUSH };
  const bodySegment = deflateRawSync(body, flush);
  const deflated = [deflateRawSync(Buffer.from(head), flush), ...Array.from({ length: repeat }, () => bodySegment), deflateRawSync(Buffer.from(tail))];
  let crc = crc32(Buffer.from(head));
  for (let n = 0; n < repeat; n += 1) crc = crc32(body, crc);
  crc = crc32(Buffer.from(tail), crc);
  return { deflated, realSize: head.length + body.length * repeat + tail.length, crc };
}

export function writeZip(parts: ZipPart[]): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const part of parts) {
    const name = Buffer.from(part.name, 'utf8');
    const data = part.stored ? [part.stored] : part.deflated!;
    const compressedSize = data.reduce((n, b) => n + b.length, 0);
    const method = part.stored ? 0 : 8;
    const size = part.declaredSize ?? part.realSize;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(part.crc >>> 0, 14);
    local.writeUInt32LE(compressedSize, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt32LE(part.crc >>> 0, 16);
    header.writeUInt32LE(compressedSize, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    chunks.push(local, name, ...data);
    offset += local.length + name.length + compressedSize;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(parts.length, 8);
  end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, ...central, end]);
}

const CONTENT_TYPES = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>`;
const PACKAGE_RELS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>`;
export const DOCUMENT_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>';
export const DOCUMENT_TAIL = '</w:body></w:document>';

/** A DOCX around the given document.xml part (plus any extra parts). */
export function docxWith(document: ZipPart, extra: ZipPart[] = []): Buffer {
  return writeZip([deflatedPart('[Content_Types].xml', CONTENT_TYPES), deflatedPart('_rels/.rels', PACKAGE_RELS), document, ...extra]);
}

/**
 * The bomb of issue 12: `word/document.xml` really inflates to `realBytes` of paragraphs while
 * both its local header and the central directory declare 1,000 bytes.
 */
export function lyingDocx(realBytes: number): Buffer {
  const paragraph = '<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>';
  const body = Buffer.from(paragraph.repeat(Math.ceil((1024 * 1024) / paragraph.length)));
  const { deflated, realSize, crc } = repeatedDeflate(DOCUMENT_HEAD, body, Math.ceil(realBytes / body.length), DOCUMENT_TAIL);
  return docxWith({ name: 'word/document.xml', deflated, realSize, crc, declaredSize: 1000 });
}
