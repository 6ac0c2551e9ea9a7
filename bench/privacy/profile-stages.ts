// Self time of an export worker's .cpuprofile (node --cpu-prof, see privacy-bench.ts --cpu-prof)
// by export stage: reading pages, decrypting rows, JSON, zip, OpenPGP, writing, other, idle.
// Run: npx tsx bench/privacy/profile-stages.ts <file.cpuprofile> [--skip-seconds S] [--top N]
// Without --skip-seconds, only the export's window is counted: from the first to the last sample
// whose stack passes through privacy-export.ts (the worker's start-up and idle wait left out).
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber?: number }; children?: number[] }
const profile = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const skipAt = process.argv.indexOf('--skip-seconds');
const skip = skipAt > 0 ? Number(process.argv[skipAt + 1]) * 1e6 : 0;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const topAt = process.argv.indexOf('--top');
const TOP = topAt > 0 ? Number(process.argv[topAt + 1]) : 0;
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inExport = new Map<number, boolean>();
const passesExport = (id: number): boolean => {
  if (inExport.has(id)) return inExport.get(id)!;
  const up = parent.get(id);
  const { url, functionName } = byId.get(id)!.callFrame;
  const yes = (functionName !== '' && /privacy-export|export-zip|openpgp-stream/.test(url)) || (up !== undefined && passesExport(up));
  inExport.set(id, yes);
  return yes;
};
let from = skip;
let to = Infinity;
if (skipAt < 0) {
  let t = 0;
  let first = -1;
  let last = -1;
  profile.samples.forEach((id, i) => { t += profile.timeDeltas[i] ?? 0; if (passesExport(id)) { if (first < 0) first = t; last = t; } });
  from = first;
  to = last;
}

// A sample's stage is that of the nearest frame on its stack (itself first, then its callers)
// that a rule names: Node's own crypto, Buffer and stream frames count for whoever called them
// (AES-GCM for the row decryption, AES-CFB for OpenPGP, SHA-256 for the zip's manifest hashes).
const rules: Array<[string, (url: string, fn: string) => boolean]> = [
  ['idle', (u, f) => f === '(idle)'],
  ['garbage collection', (u, f) => f === '(garbage collector)'],
  ['decrypting rows (AES-GCM, key lookup)', (u) => /field-cipher|crypto\/aead|key-store/.test(u)],
  ['reading pages (knex, pg, bytea/date parsing)', (u, f) => /node_modules\/(knex|pg|pg-protocol|pg-types|postgres-[a-z]+|tarn)\//.test(u) || /chat-repo|library-repo/.test(u)],
  ['JSON (views, stringify)', (u, f) => /privacy-export\.ts/.test(u) && f === 'jsonArray' || /chat-views|chat-personal-data|message-json/.test(u) || f === 'stringify'],
  ['zip (deflate, CRC, SHA-256, writer)', (u) => /node:zlib|export-zip|crc-32|archiver|zip-stream|compress-commons|readable-stream|lazystream/.test(u)],
  ['OpenPGP (AES-CFB, SHA-1 MDC, framing)', (u) => /openpgp|webstreams/.test(u)],
  ['writing (fs)', (u, f) => /node:fs|internal\/fs|storage\.ts/.test(u)],
];
const stageOf = new Map<number, string>();
const classify = (id: number): string => {
  const known = stageOf.get(id);
  if (known) return known;
  const { url, functionName } = byId.get(id)!.callFrame;
  const up = parent.get(id);
  const stage = rules.find(([, test]) => test(url, functionName))?.[0] ?? (up !== undefined ? classify(up) : 'other (buffers, streams, promises, event loop)');
  stageOf.set(id, stage);
  return stage;
};
const totals = new Map<string, number>();
const functions = new Map<string, number>();
let elapsed = 0;
let all = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  elapsed += dt;
  if (elapsed < from || elapsed > to) return;
  all += dt;
  const { url, functionName } = byId.get(id)!.callFrame;
  const stage = classify(id);
  totals.set(stage, (totals.get(stage) ?? 0) + dt);
  const fn = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}:${byId.get(id)!.callFrame.lineNumber ?? ''}`;
  functions.set(fn, (functions.get(fn) ?? 0) + dt);
});
process.stdout.write(`${(all / 1e6).toFixed(2)} s sampled on the worker's main thread (zlib's deflate itself runs on the libuv pool, not sampled here)\n`);
for (const [stage, t] of [...totals].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${stage} | ${(t / 1e6).toFixed(2)} s | ${((100 * t) / all).toFixed(1)}% |\n`);
if (TOP) for (const [fn, t] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${(t / 1e3).toFixed(0).padStart(6)} ms  ${fn}\n`);
