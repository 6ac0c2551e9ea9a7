// Vectors as stored and scored: L2-normalised at write time, so cosine similarity is a dot
// product; packed as one little-endian Float32 matrix per segment (rows = chunks), so a search
// scores a whole segment with one tight loop over a typed array, with no per-chunk objects.

/** Scales to unit length in place (a zero vector stays zero and scores 0 against everything). */
export function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}

/** Rows into one buffer of rows.length x dimensions float32 (platform order: little-endian on every supported CPU). */
export function packMatrix(rows: Float32Array[], dimensions: number): Buffer {
  const matrix = new Float32Array(rows.length * dimensions);
  rows.forEach((row, i) => matrix.set(row, i * dimensions));
  return Buffer.from(matrix.buffer, matrix.byteOffset, matrix.byteLength);
}

/** A Float32Array view of decrypted bytes (copied only if the buffer is not 4-byte aligned). */
export function matrixView(bytes: Buffer): Float32Array {
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

export interface Scored<T> {
  score: number;
  ref: T;
}

/** The k best, kept sorted best first; insertion is O(k), and k is at most a few dozen. */
export class TopK<T> {
  readonly items: Array<Scored<T>> = [];
  constructor(private readonly k: number) {}
  get floor(): number {
    return this.items.length < this.k ? -Infinity : this.items[this.items.length - 1].score;
  }
  offer(score: number, ref: () => T): void {
    if (this.k <= 0 || score <= this.floor) return;
    let i = this.items.length;
    while (i > 0 && this.items[i - 1].score < score) i--;
    this.items.splice(i, 0, { score, ref: ref() });
    if (this.items.length > this.k) this.items.pop();
  }
}

/** Dot product of the query with each row of `matrix`, offered to `top` as (row index). */
export function scoreRows(matrix: Float32Array, rows: number, query: Float32Array, onScore: (row: number, score: number) => void): void {
  const d = query.length;
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j + 3 < d; j += 4) {
      s0 += matrix[base + j] * query[j];
      s1 += matrix[base + j + 1] * query[j + 1];
      s2 += matrix[base + j + 2] * query[j + 2];
      s3 += matrix[base + j + 3] * query[j + 3];
    }
    for (; j < d; j++) s0 += matrix[base + j] * query[j];
    onScore(r, s0 + s1 + s2 + s3);
  }
}
