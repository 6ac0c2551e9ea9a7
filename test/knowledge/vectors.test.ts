// The pure parts under the search: the chunker (bounds, overlap, nothing lost, deterministic) and
// the scorer (the WebAssembly SIMD kernel gives exactly the JavaScript loop's integers, and
// quantised scores stay within 0.01 of exact float32 cosines).
import { expect } from 'chai';
import { chunkText } from '../../src/modules/knowledge/knowledge-chunking.js';
import { matrixView, normalise, packMatrix, scoreRows, scoringQuery, SCORING_ENGINE } from '../../src/modules/knowledge/knowledge-vectors.js';

const random = (seed: number) => () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32 - 0.5; };

describe('knowledge: chunking and scoring', () => {
  it('cuts on sentence boundaries within the size, overlapping, losing no word, the same every time', () => {
    const next = random(7);
    const sentences = Array.from({ length: 300 }, (_, i) => `Sentence ${i} says ${Array.from({ length: 3 + Math.floor((next() + 0.5) * 20) }, (_, w) => `w${i}x${w}`).join(' ')}.`);
    const text = sentences.join(' ') + ` ${'x'.repeat(2500)} tail.`;
    const chunks = chunkText(text, { maxChars: 400, overlapChars: 80 });
    expect(chunks).to.deep.equal(chunkText(text, { maxChars: 400, overlapChars: 80 }));
    for (const c of chunks) expect(c.length).to.be.at.most(400);
    const words = new Set(chunks.flatMap((c) => c.split(/\s+/)));
    for (const s of sentences) for (const w of s.split(' ')) expect(words.has(w), w).to.equal(true);
    // Most chunks end a sentence, and consecutive chunks share text.
    expect(chunks.filter((c) => c.endsWith('.')).length / chunks.length).to.be.greaterThan(0.9);
    // A chunk's last sentence, when it fits in the overlap, opens the next chunk.
    let overlapping = 0;
    for (let i = 0; i + 1 < chunks.length; i++) {
      const last = /(?:^|\. )(Sentence [^.]*\.)$/.exec(chunks[i])?.[1];
      if (last && last.length <= 80) {
        expect(chunks[i + 1].startsWith(last), `chunk ${i + 1} starts with the end of chunk ${i}`).to.equal(true);
        overlapping += 1;
      }
    }
    expect(overlapping).to.be.greaterThan(5);
    expect(chunkText('', { maxChars: 400, overlapChars: 80 })).to.deep.equal([]);
  });

  it('scores exactly alike in WebAssembly and JavaScript, within 0.01 of float32 cosines', () => {
    expect(SCORING_ENGINE).to.equal('wasm-simd');
    const next = random(42);
    for (const dims of [1536, 100]) { // 100: not a multiple of 16, the JavaScript loop
      const rows = Array.from({ length: 70 }, () => normalise(Float32Array.from({ length: dims }, next)));
      const matrix = matrixView(packMatrix(rows, dims), rows.length, dims);
      const unit = normalise(Float32Array.from({ length: dims }, next));
      const query = scoringQuery(unit);
      const wasm: number[] = [];
      const js: number[] = [];
      scoreRows(matrix, rows.length, query, (r, s) => { wasm[r] = s; }, 'wasm-simd');
      scoreRows(matrix, rows.length, query, (r, s) => { js[r] = s; }, 'javascript');
      expect(wasm).to.deep.equal(js);
      rows.forEach((row, r) => {
        const exact = row.reduce((sum, x, j) => sum + x * unit[j], 0);
        expect(wasm[r]).to.be.closeTo(exact, 0.01);
      });
    }
  });
});
