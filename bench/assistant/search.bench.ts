// Smart-folder search benchmark (issue 13). Run: npx tsx bench/assistant/search.bench.ts [iterations] [rounds]
// Target: search over 5,000 chunks of 1,536 dimensions answers in ≤ 100 ms p95, decryption included.
//
// Builds a folder of 10 files × 500 chunks through the real path (upload -> extraction -> folder
// membership -> the indexing job, embeddings from a local fake provider speaking OpenAI's API),
// then measures, in each round:
//   http-warm   POST /api/v1/smart-folders/{id}/search over real HTTP (session auth, validation,
//               query embedding at the fake provider, listing, AES-GCM of every segment, scoring,
//               top-5 texts), ciphertext cache warm (the steady state)
//   http-cold   the same with the ciphertext cache off (CUSTOS_KNOWLEDGE_CACHE_MB=0): every search
//               reads the 31 MB of vector ciphertext from PostgreSQL
//   service     knowledge.search() in process, cache warm (no HTTP)
//   parts       decrypt all segments; score 5,000 × 1,536 in memory (the no-encryption baseline);
//               one query embedding at the fake provider
//   baseline    GET /api/v1/smart-folders/{id} over HTTP (auth + one decrypted folder row)
// Uses its own database (custos_bench_assistant) and Redis prefix; writes bench/results/assistant.md.
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { createDb, withDatabaseName } from '../../src/platform/db.js';
import { migrateDatabase } from '../../src/platform/db-roles.js';
import { generateSecrets } from '../../src/platform/dev-secrets.js';
import { createKnowledgeRepo } from '../../src/modules/knowledge/knowledge-repo.js';
import { matrixView, normalise, packMatrix, scoreRows, scoringQuery, TopK } from '../../src/modules/knowledge/knowledge-vectors.js';
import { createEmbedder } from '../../src/modules/relay/relay-embeddings.js';
import { loadCatalogue } from '../../src/modules/relay/relay-catalogue.js';
import { createOpenAiProtocolAdapter } from '../../src/modules/relay/providers/openai-protocol.js';
import { createUpstreamClient } from '../../src/modules/relay/providers/upstream-http.js';
import { startFakeProvider } from '../../test/relay/fake-provider.js';

const ITERATIONS = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 3);
const FILES = 10;
const CHUNKS_PER_FILE = 500;
const DATABASE = 'custos_bench_assistant';
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/custos';
const loadNow = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const median = (xs: number[]) => pct(xs, 50);

const VOCAB = 'invoice payment ledger mountain trail boots bread dough yeast oven server backup cipher key rotation audit trail staff reason export archive folder search model vector chunk sentence answer question policy contract clause liability warranty delivery shipment customer support ticket incident breach notice deadline regulation privacy consent record retention schedule budget forecast revenue margin hiring onboarding laptop network firewall'.split(' ');

/** One file's text: sentences of random vocabulary, about 1,150 characters per chunk of 1,200. */
function fileText(seed: number): string {
  let x = seed * 2654435761 >>> 0;
  const next = () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x; };
  const sentences: string[] = [];
  let length = 0;
  while (length < CHUNKS_PER_FILE * 1185) {
    const words = Array.from({ length: 8 + (next() % 10) }, () => VOCAB[next() % VOCAB.length]);
    const s = `${words.join(' ')}.`;
    sentences.push(s[0].toUpperCase() + s.slice(1));
    length += s.length + 1;
  }
  return sentences.join(' ');
}

async function timed(n: number, op: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await op();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

async function main() {
  const loadStart = loadNow();
  const admin = createDb(withDatabaseName(serverUrl, 'postgres'), 1);
  await admin.raw(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${DATABASE}"`);
  await admin.destroy();
  const fake = await startFakeProvider();
  const env = {
    ...process.env, ...generateSecrets(), NODE_ENV: 'test', CUSTOS_VALIDATE_RESPONSES: 'false', CUSTOS_LOG_LEVEL: 'silent',
    DATABASE_URL: withDatabaseName(serverUrl, DATABASE), CUSTOS_QUEUE_PREFIX: DATABASE, HOST: '127.0.0.1', PORT: '0',
    CUSTOS_PROVIDER_OPENAI_BASE_URL: `${fake.baseUrl}/v1`, CUSTOS_PROVIDER_OPENAI_API_KEY: 'sk-bench',
    CUSTOS_KNOWLEDGE_CHUNK_CHARS: '1200', CUSTOS_KNOWLEDGE_CHUNK_OVERLAP_CHARS: '0', CUSTOS_KNOWLEDGE_EMBEDDING_BATCH: '64',
  };
  const config = loadConfig(env);
  await migrateDatabase(config);
  const warm = createContainer(config);
  const cold = createContainer(loadConfig({ ...env, CUSTOS_KNOWLEDGE_CACHE_MB: '0' }));

  // The folder, through the real path.
  const password = 'Bench-password-1234';
  const user = await warm.accounts.register(`bench-${randomBytes(3).toString('hex')}@example.test`, password);
  const folder = await warm.chat.createSmartFolder(user.id, 'Bench folder');
  const indexStart = Date.now();
  for (let f = 0; f < FILES; f++) {
    const file = await warm.chat.uploadFile(user.id, { fileName: `file-${f}.txt`, bytes: Buffer.from(fileText(f + 1)) });
    await warm.chat.addSmartFolderMember(user.id, folder.id, { fileId: file.id });
  }
  const sources = await warm.platform.db('knowledge_sources').where({ folder_id: folder.id }).select('id');
  for (const { id } of sources) await warm.knowledge.runIndex(id); // the job's processor, in process (no BullMQ wait)
  const indexSeconds = (Date.now() - indexStart) / 1000;
  const [{ n: chunkCount }] = await warm.platform.db('knowledge_chunks').where({ user_id: user.id }).count<Array<{ n: string }>>('* as n');
  const segments = await warm.platform.db('knowledge_segments').where({ folder_id: folder.id }).select('dimensions', 'chunk_count');
  const dims = segments[0].dimensions as number;
  const vectorBytes = Number(chunkCount) * dims * 4;
  const [{ n: storedBytes }] = await warm.platform.db('knowledge_segments').where({ folder_id: folder.id }).sum<Array<{ n: string }>>({ n: warm.platform.db.raw('octet_length(vectors_enc)') });

  const servers = await Promise.all([warm, cold].map((c: Container) => new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server = createApp(c).listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
    }));
  })));
  const login = await fetch(`${servers[0].url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email, password }) });
  const token = ((await login.json()) as { token: string }).token;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const queries = ['invoice payment deadline', 'mountain trail boots', 'cipher key rotation audit', 'privacy consent retention schedule', 'customer support ticket incident'];
  let q = 0;
  const searchOver = (url: string) => async () => {
    const res = await fetch(`${url}/api/v1/smart-folders/${folder.id}/search`, { method: 'POST', headers, body: JSON.stringify({ query: queries[q++ % queries.length], limit: 5 }) });
    const body = (await res.json()) as { items: unknown[] };
    if (res.status !== 200 || body.items.length !== 5) throw new Error(`search answered ${res.status}`);
  };
  const getFolder = async () => {
    const res = await fetch(`${servers[0].url}/api/v1/smart-folders/${folder.id}`, { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`folder ${res.status}`);
  };

  // Parts, outside the service: decryption of every segment, scoring in memory, one embedding.
  const repo = createKnowledgeRepo(warm.platform.db, warm.platform.fieldCipher);
  const refs = await repo.folderSegments(user.id, folder.id);
  const ciphertexts = await repo.segmentCiphertexts(user.id, refs.map((r) => r.id));
  const plain = await Promise.all(refs.map(async (r) => matrixView(await repo.openSegment(r.id, ciphertexts.get(r.id)!), r.chunkCount, r.dimensions)));
  const query = scoringQuery(normalise(Float32Array.from({ length: dims }, (_, i) => Math.sin(i))));
  const decryptAll = async () => { for (const r of refs) await repo.openSegment(r.id, ciphertexts.get(r.id)!); };
  const scoreAll = async () => {
    const top = new TopK<number>(5);
    refs.forEach((r, i) => scoreRows(plain[i], r.chunkCount, query, (row, score) => top.offer(score, () => row)));
  };
  // The layout not chosen, measured on the same rows: float32 segments (dequantised from the
  // stored ones), sealed the same way, decrypted and scored with a plain JavaScript loop.
  const floatSegments = await Promise.all(refs.map(async (r, i) => {
    const m = plain[i];
    const rows = new Float32Array(r.chunkCount * dims);
    for (let row = 0; row < r.chunkCount; row++) for (let j = 0; j < dims; j++) rows[row * dims + j] = m.values[row * dims + j] * m.scales[row];
    const at = { table: 'bench', column: 'f32', rowId: r.id };
    return { at, rows: r.chunkCount, sealed: await warm.platform.fieldCipher.encryptBytes(user.id, at, Buffer.from(rows.buffer)) };
  }));
  const unitQuery = normalise(Float32Array.from({ length: dims }, (_, i) => Math.sin(i)));
  const float32Search = async () => {
    const top = new TopK<number>(5);
    for (const seg of floatSegments) {
      const bytes = await warm.platform.fieldCipher.decryptBytes(seg.at, seg.sealed);
      const m = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      for (let row = 0; row < seg.rows; row++) {
        let sum = 0;
        const base = row * dims;
        for (let j = 0; j < dims; j++) sum += m[base + j] * unitQuery[j];
        top.offer(sum, () => row);
      }
    }
  };

  const upstream = createUpstreamClient();
  const embedder = createEmbedder({
    catalogue: loadCatalogue(), adapters: { openai: createOpenAiProtocolAdapter(upstream), xai: undefined, anthropic: undefined, google: undefined },
    target: async () => ({ baseUrl: `${fake.baseUrl}/v1`, apiKey: 'sk-bench' }), upstreamTimeoutMs: 10_000, charge: warm.relay.chargeUsage,
  });
  const embedOne = () => embedder.embedTexts(user.id, config.knowledge.embeddingModel, ['mountain trail boots']);

  type Round = Record<'httpWarm' | 'httpCold' | 'service' | 'decrypt' | 'score' | 'embed' | 'baseline' | 'float32', number[]>;
  const rounds: Round[] = [];
  const loads: string[] = [];
  for (let i = 0; i < 20; i++) { await searchOver(servers[0].url)(); await searchOver(servers[1].url)(); await getFolder(); } // warm-up (JIT, caches, pools)
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      baseline: await timed(ITERATIONS, getFolder),
      httpWarm: await timed(ITERATIONS, searchOver(servers[0].url)),
      httpCold: await timed(Math.max(20, Math.floor(ITERATIONS / 4)), searchOver(servers[1].url)),
      service: await timed(ITERATIONS, () => warm.knowledge.search(user.id, folder.id, { query: queries[q++ % queries.length], limit: 5 })),
      decrypt: await timed(ITERATIONS, decryptAll),
      score: await timed(ITERATIONS, scoreAll),
      embed: await timed(ITERATIONS, embedOne),
      float32: await timed(Math.max(20, Math.floor(ITERATIONS / 4)), float32Search),
    });
    loads.push(loadNow());
  }
  for (const s of servers) await s.close();
  for (const c of [warm, cold]) {
    const keys = await c.platform.redis.keys(`${DATABASE}:*`);
    if (keys.length) await c.platform.redis.del(...keys);
    await c.close();
  }
  upstream.close();
  await fake.close();

  // Quantisation check on dense vectors (real embeddings are dense; the fake's are sparse): 5,000
  // random unit vectors, 100 queries each near one of them; top-5 by int8 scoring vs exact float32.
  const gaussian = () => Math.sqrt(-2 * Math.log(Math.random() || 1e-12)) * Math.cos(2 * Math.PI * Math.random());
  const dense = Array.from({ length: 5000 }, () => normalise(Float32Array.from({ length: dims }, gaussian)));
  const quantised = matrixView(packMatrix(dense, dims), dense.length, dims);
  let recallHits = 0;
  let maxScoreError = 0;
  const QUERIES = 100;
  for (let i = 0; i < QUERIES; i++) {
    const near = dense[(i * 37) % dense.length];
    const qv = normalise(Float32Array.from(near, (x) => x + 0.05 * gaussian()));
    const exactScores = dense.map((v) => { let s = 0; for (let j = 0; j < dims; j++) s += v[j] * qv[j]; return s; });
    const exact = exactScores.map((s, row) => ({ row, s })).sort((a, b) => b.s - a.s);
    const top = new TopK<number>(5);
    scoreRows(quantised, dense.length, scoringQuery(qv), (row, score) => {
      top.offer(score, () => row);
      if (row === exact[0].row) maxScoreError = Math.max(maxScoreError, Math.abs(score - exactScores[row]));
    });
    const exactTop = new Set(exact.slice(0, 5).map((e) => e.row));
    recallHits += top.items.filter((t) => exactTop.has(t.ref)).length;
  }
  const recallAt5 = recallHits / (QUERIES * 5);

  const sh = (cmd: string) => execSync(cmd, { encoding: 'utf8' }).trim();
  const f = (n: number) => n.toFixed(n < 10 ? 2 : 1);
  const row = (name: keyof Round, label: string) => `| ${label} | ${rounds.map((r) => `${f(median(r[name]))} / ${f(pct(r[name], 95))} / ${f(pct(r[name], 99))}`).join(' | ')} |`;
  const med = (name: keyof Round, p: number) => median(rounds.map((r) => pct(r[name], p)));
  const report = `# Smart-folder search benchmark (issue 13)

Command: \`npx tsx bench/assistant/search.bench.ts ${ITERATIONS} ${ROUNDS}\` (${ITERATIONS} sequential requests per measurement and round; the cold HTTP case ${Math.max(20, Math.floor(ITERATIONS / 4))}).
Machine: nproc ${sh('nproc')}; ${sh('free -h | sed -n 2p').replace(/\s+/g, ' ')}; Node ${process.version}; PostgreSQL and Redis on localhost; the fake provider in the same process.
Load average (1/5/15 min): at start ${loadStart}; after each round ${loads.join('; ')}.
Measured ${new Date().toISOString()}.

Folder: ${FILES} files, ${chunkCount} chunks of up to 1,200 characters, ${dims} dimensions (${(vectorBytes / 1048576).toFixed(1)} MiB as float32;
stored int8-quantised: ${(Number(storedBytes) / 1048576).toFixed(1)} MiB of ciphertext in ${refs.length} encrypted segments of up to 64 chunks). Indexing through the real path (upload, extraction, membership, the job's
processor with 64 chunks per embeddings call to the fake provider): ${indexSeconds.toFixed(1)} s.

## Target: ≤ 100 ms p95 over 5,000 chunks × 1,536 dimensions, decryption included

| | ${rounds.map((_, i) => `round ${i + 1}: p50 / p95 / p99 (ms)`).join(' | ')} |
| --- | ${rounds.map(() => '---').join(' | ')} |
${row('httpWarm', 'POST …/search over HTTP, ciphertext cache warm')}
${row('httpCold', 'POST …/search over HTTP, no cache (every segment read from PostgreSQL)')}
${row('service', 'knowledge.search() in process, cache warm')}
${row('decrypt', 'part: AES-256-GCM of every segment')}
${row('score', 'part: scoring every chunk in memory (no-encryption baseline)')}
${row('embed', 'part: one query embedding at the fake provider')}
${row('baseline', 'baseline: GET /api/v1/smart-folders/{id} over HTTP')}
${row('float32', 'layout not chosen: float32 segments, decrypt + JavaScript scoring (no DB, no HTTP)')}

Medians over the rounds: HTTP warm p95 **${f(med('httpWarm', 95))} ms** (p50 ${f(med('httpWarm', 50))} ms), cold p95 ${f(med('httpCold', 95))} ms;
decryption p50 ${f(med('decrypt', 50))} ms and scoring p50 ${f(med('score', 50))} ms of it. Ratios in the same run: warm search p50 /
GET folder p50 = ${(med('httpWarm', 50) / med('baseline', 50)).toFixed(1)}×; warm search p50 / in-memory scoring p50 (the cost over an
unencrypted in-memory index) = ${(med('httpWarm', 50) / med('score', 50)).toFixed(1)}×; float32 layout's decrypt + score p50 / the chosen
layout's decrypt + score p50 = ${(med('float32', 50) / (med('decrypt', 50) + med('score', 50))).toFixed(1)}×.

Quantisation (int8 per vector with a float32 scale; the query as int16 of ±4,095 levels; see src/modules/knowledge/knowledge-vectors.ts), checked on
5,000 dense random unit vectors of ${dims} dimensions and ${QUERIES} queries near known vectors: recall@5 against exact
float32 cosine = ${recallAt5.toFixed(3)}; largest score error on the best match = ${maxScoreError.toFixed(4)}.
`;
  writeFileSync(new URL('../results/assistant.md', import.meta.url), report);
  process.stdout.write(report);
}

main().catch((error) => { console.error(error); process.exit(1); });
