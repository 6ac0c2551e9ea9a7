// Vectors as stored and scored. Each vector is L2-normalised, then quantised to int8 with one
// float32 scale per vector (scalar quantisation, as Qdrant's and Faiss' SQ8): a segment of n
// chunks is one buffer, [n float32 scales][n × d int8 values], so a search decrypts a quarter of
// the bytes of float32 and scores a whole segment with one tight loop over typed arrays. The
// scale makes each dequantised vector unit length, so a score is the exact cosine between the
// query and the stored (quantised) vector; quantisation moves scores by ~0.01 at 1,536
// dimensions, and bench/assistant checks that the top results match float32 scoring.
// Why not float32: decrypting 30 MB per search over 5,000 × 1,536 took 36–50 ms alone on this
// loaded 2-core machine (bench/results/assistant.md), which left no room under a 100 ms p95.

export const VECTOR_ENCODING = 'int8-rowscale-v1';

/** Scales to unit length in place (a zero vector stays zero and scores 0 against everything). */
export function normalise(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}

/** Unit vectors -> [scales][int8 values]; each row's largest magnitude maps to ±127. */
export function packMatrix(rows: Float32Array[], dimensions: number): Buffer {
  const n = rows.length;
  const bytes = new ArrayBuffer(n * 4 + n * dimensions);
  const scales = new Float32Array(bytes, 0, n);
  const values = new Int8Array(bytes, n * 4, n * dimensions);
  rows.forEach((row, r) => {
    let max = 0;
    for (let j = 0; j < dimensions; j++) max = Math.max(max, Math.abs(row[j]));
    if (max === 0) return; // scale 0: scores 0
    let sumSquares = 0;
    for (let j = 0; j < dimensions; j++) {
      const q = Math.round((row[j] / max) * 127);
      values[r * dimensions + j] = q;
      sumSquares += q * q;
    }
    scales[r] = 1 / Math.sqrt(sumSquares);
  });
  return Buffer.from(bytes);
}

export interface MatrixView {
  scales: Float32Array;
  values: Int8Array;
}

/** Typed-array views of decrypted bytes (copied only if the buffer is not 4-byte aligned). */
export function matrixView(bytes: Buffer, rows: number, dimensions: number): MatrixView {
  if (bytes.byteLength !== rows * 4 + rows * dimensions) throw new Error('vector segment has the wrong size');
  let buffer = bytes.buffer;
  let offset = bytes.byteOffset;
  if (offset % 4 !== 0) {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    buffer = copy.buffer;
    offset = 0;
  }
  return { scales: new Float32Array(buffer, offset, rows), values: new Int8Array(buffer, offset + rows * 4, rows * dimensions) };
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

/**
 * The query as integers for scoring: its largest magnitude maps to ±4095, so a row's dot product
 * (≤ 127 × 4095 × 1,536 < 2^31) stays an exact int32 sum, which V8 computes about 1.6× faster
 * than the same loop in doubles (measured on this machine).
 */
export interface ScoringQuery {
  values: Int32Array;
  /** Multiply an integer dot product by this (and the row's scale) to get the cosine. */
  scale: number;
}

const QUERY_LEVELS = 4095;

export function scoringQuery(unit: Float32Array): ScoringQuery {
  let max = 0;
  for (let j = 0; j < unit.length; j++) max = Math.max(max, Math.abs(unit[j]));
  const values = new Int32Array(unit.length);
  if (max === 0) return { values, scale: 0 };
  for (let j = 0; j < unit.length; j++) values[j] = Math.round((unit[j] / max) * QUERY_LEVELS);
  return { values, scale: max / QUERY_LEVELS };
}

/** Cosine of the (unit) query with each stored row, handed to `onScore` with the row index. */
export function scoreRows({ scales, values }: MatrixView, rows: number, query: ScoringQuery, onScore: (row: number, score: number) => void): void {
  const q = query.values;
  const d = q.length;
  if (d > 4096) throw new Error('more than 4,096 dimensions would overflow the int32 dot product');
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let j = 0;
    for (; j + 3 < d; j += 4) {
      s0 = (s0 + values[base + j] * q[j]) | 0;
      s1 = (s1 + values[base + j + 1] * q[j + 1]) | 0;
      s2 = (s2 + values[base + j + 2] * q[j + 2]) | 0;
      s3 = (s3 + values[base + j + 3] * q[j + 3]) | 0;
    }
    for (; j < d; j++) s0 = (s0 + values[base + j] * q[j]) | 0;
    onScore(r, (s0 + s1 + s2 + s3) * scales[r] * query.scale);
  }
}
