// Summarises a V8 .cpuprofile (node --cpu-prof): self time by package/file and by function, and
// inclusive time of named middleware, so the report can say where a request's time goes.
// Run: npx tsx bench/http/profile-summary.ts <file.cpuprofile> [top] [--skip-seconds S]
// (--skip-seconds leaves out start-up: module loading would otherwise fill the top of the list.)
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const file = process.argv[2];
const top = Number(/^\d+$/.test(process.argv[3] ?? '') ? process.argv[3] : 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const skipIndex = process.argv.indexOf('--skip-seconds');
const skipMicros = skipIndex > 0 ? Number(process.argv[skipIndex + 1]) * 1e6 : 0;
const self = new Map<number, number>();
let elapsed = 0;
profile.samples.forEach((id, i) => {
  elapsed += profile.timeDeltas[i] ?? 0;
  if (elapsed >= skipMicros) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const where = (url: string) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes('/src/')) return url.slice(url.indexOf('/src/') + 1);
  return url.startsWith('node:') ? url : url ? url.split('/').slice(-1)[0] : '(native/gc/idle)';
};
const add = (map: Map<string, number>, key: string, v: number) => map.set(key, (map.get(key) ?? 0) + v);
const bySource = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, t] of self) {
  const { callFrame } = byId.get(id)!;
  add(bySource, where(callFrame.url), t);
  add(byFunction, `${callFrame.functionName || '(anonymous)'} ${where(callFrame.url)}:${callFrame.lineNumber + 1}`, t);
}
// Inclusive time: a sample counts once for every distinct package on its stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
const inclusiveFunctions = new Map<string, number>();
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
for (const [id, t] of self) {
  const seen = new Set<string>();
  const seenFunctions = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    seen.add(where(byId.get(cur)!.callFrame.url));
    seenFunctions.add(label(byId.get(cur)!));
  }
  for (const s of seen) add(inclusive, s, t);
  for (const s of seenFunctions) add(inclusiveFunctions, s, t);
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(v).padStart(6)}  ${k}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n`);
show('self time by source', bySource);
show('inclusive time by source (on the stack)', inclusive);
show('self time by function', byFunction);
show('inclusive time by function (on the stack)', inclusiveFunctions);
