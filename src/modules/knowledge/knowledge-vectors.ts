// Vectors as stored and scored. Each vector is L2-normalised, then quantised to int8 with one
// float32 scale per vector (scalar quantisation, as Qdrant's and Faiss' SQ8): a segment of n
// chunks is one buffer, [n float32 scales][n × d int8 values], so a search decrypts a quarter of
// the bytes of float32 and scores a whole segment in one call of a WebAssembly SIMD kernel. The
// scale makes each dequantised vector unit length, so a score is the exact cosine between the
// query and the stored (quantised) vector; quantisation moves scores by ~0.01 at 1,536
// dimensions, and bench/assistant checks that the top results match float32 scoring.
// Why not float32: decrypting 30 MB per search over 5,000 × 1,536 took 36–50 ms alone on this
// loaded 2-core machine (bench/results/assistant.md), which left no room under a 100 ms p95.

import { DOTS_WASM_BASE64 } from './knowledge-dots-wasm.js';

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
 * (≤ 127 × 4095 × 4,096 < 2^31) is an exact int32 sum.
 */
export interface ScoringQuery {
  values: Int16Array;
  /** Multiply an integer dot product by this (and the row's scale) to get the cosine. */
  scale: number;
}

const QUERY_LEVELS = 4095;
const MAX_DIMENSIONS = 4096;

export function scoringQuery(unit: Float32Array): ScoringQuery {
  let max = 0;
  for (let j = 0; j < unit.length; j++) max = Math.max(max, Math.abs(unit[j]));
  const values = new Int16Array(unit.length);
  if (max === 0) return { values, scale: 0 };
  for (let j = 0; j < unit.length; j++) values[j] = Math.round((unit[j] / max) * QUERY_LEVELS);
  return { values, scale: max / QUERY_LEVELS };
}

/**
 * The dot products, 16 int8 × int16 products per instruction (WebAssembly SIMD, knowledge-dots.wat):
 * about 8× the plain JavaScript loop on this machine, which matters because scoring 5,000 × 1,536
 * was the largest part of a search (bench/results/assistant.md). Synchronous, so concurrent
 * searches never interleave inside its memory.
 */
const wasm = (() => {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(DOTS_WASM_BASE64, 'base64')));
    return { memory: instance.exports.memory as WebAssembly.Memory, dots: instance.exports.dots as (v: number, q: number, rows: number, dims: number, out: number) => void };
  } catch {
    return undefined; // no SIMD in this runtime: the JavaScript loop below
  }
})();
export const SCORING_ENGINE = wasm ? 'wasm-simd' : 'javascript';

function wasmDots(values: Int8Array, rows: number, query: Int16Array, out: Int32Array): void {
  const d = query.length;
  const outAt = MAX_DIMENSIONS * 2;
  const valuesAt = outAt + Math.ceil((rows * 4) / 16) * 16;
  const needed = valuesAt + rows * d;
  if (wasm!.memory.buffer.byteLength < needed) wasm!.memory.grow(Math.ceil((needed - wasm!.memory.buffer.byteLength) / 65536));
  const memory = wasm!.memory.buffer;
  new Int16Array(memory, 0, d).set(query);
  new Int8Array(memory, valuesAt, rows * d).set(values.subarray(0, rows * d));
  wasm!.dots(valuesAt, 0, rows, d, outAt);
  out.set(new Int32Array(wasm!.memory.buffer, outAt, rows));
}

function javascriptDots(values: Int8Array, rows: number, q: Int16Array, out: Int32Array): void {
  const d = q.length;
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
    out[r] = (s0 + s1 + s2 + s3) | 0;
  }
}

/** Cosine of the (unit) query with each stored row, handed to `onScore` with the row index. */
export function scoreRows({ scales, values }: MatrixView, rows: number, query: ScoringQuery, onScore: (row: number, score: number) => void, engine = SCORING_ENGINE): void {
  const d = query.values.length;
  if (d > MAX_DIMENSIONS) throw new Error('more than 4,096 dimensions would overflow the int32 dot product');
  const dots = new Int32Array(rows);
  if (engine === 'wasm-simd' && wasm && d % 16 === 0) wasmDots(values, rows, query.values, dots);
  else javascriptDots(values, rows, query.values, dots);
  for (let r = 0; r < rows; r++) onScore(r, dots[r] * scales[r] * query.scale);
}
