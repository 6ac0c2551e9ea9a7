// Splits a file's extracted text into overlapping chunks for embedding. Chunks end on sentence
// boundaries where they can (then words, then, for a "word" longer than a chunk, characters), so
// a chunk reads as prose and its embedding is about one thing; consecutive chunks share about
// `overlapChars` of trailing sentences, so an answer that straddles a boundary is still found
// whole in one of them. Deterministic: the same text and sizes give the same chunks, which is
// what lets an interrupted indexing job resume at its next chunk index.

export interface ChunkingOptions {
  /** Upper bound on a chunk's length in characters (UTF-16 code units). */
  maxChars: number;
  /** About this many characters of the previous chunk's end start the next one. */
  overlapChars: number;
}

/** Sentences (with their trailing space), paragraph breaks counting as sentence ends. */
function sentences(text: string): string[] {
  const out: string[] = [];
  // A sentence ends after . ! ? (optionally closing quotes/brackets) followed by whitespace, or at a blank line.
  const boundary = /[.!?]["'”’)\]]*\s+|\n\s*\n\s*/g;
  let start = 0;
  for (let m = boundary.exec(text); m; m = boundary.exec(text)) {
    const end = m.index + m[0].length;
    if (end > start) out.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** A piece no longer than max: a sentence too long is cut at spaces, a word too long at max. */
function pieces(sentence: string, max: number): string[] {
  if (sentence.length <= max) return [sentence];
  const out: string[] = [];
  let current = '';
  for (const word of sentence.split(/(?<=\s)/)) {
    if (word.length > max) {
      if (current) out.push(current);
      current = '';
      for (let i = 0; i < word.length; i += max) out.push(word.slice(i, i + max));
      continue;
    }
    if (current.length + word.length > max) {
      out.push(current);
      current = '';
    }
    current += word;
  }
  if (current) out.push(current);
  return out;
}

export function chunkText(text: string, { maxChars, overlapChars }: ChunkingOptions): string[] {
  const normalised = text.replace(/\r\n?/g, '\n').replace(/[ \t\f\v]+/g, ' ');
  const units = sentences(normalised).flatMap((s) => pieces(s, maxChars));
  const chunks: string[] = [];
  let window: string[] = [];
  let length = 0;
  let fresh = 0; // units in the window not already emitted in the previous chunk
  const emit = () => {
    const chunk = window.join('').trim();
    if (chunk) chunks.push(chunk);
    // Keep trailing units of at most overlapChars as the start of the next chunk.
    const kept: string[] = [];
    let keptLength = 0;
    for (let i = window.length - 1; i >= 0 && keptLength + window[i].length <= overlapChars; i--) {
      kept.unshift(window[i]);
      keptLength += window[i].length;
    }
    window = kept;
    length = keptLength;
    fresh = 0;
  };
  for (const unit of units) {
    if (length + unit.length > maxChars && fresh > 0) emit();
    // Even after trimming to the overlap the unit may not fit: drop overlap until it does.
    while (window.length && length + unit.length > maxChars) length -= window.shift()!.length;
    window.push(unit);
    length += unit.length;
    fresh += 1;
  }
  if (fresh > 0) emit();
  return chunks;
}
