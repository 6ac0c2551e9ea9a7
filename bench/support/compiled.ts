// Benchmark servers run tsc's output, as the image does (Dockerfile: node dist/src/cli.js), not
// tsx: tsx compiles with esbuild's keepNames, which names every closure with
// Object.defineProperty each time one is made, a per-request cost production never pays and
// that once shaped the code to dodge it. `compiledArgs` builds a checkout (src, test and bench,
// into its dist/) once per process and gives the node arguments that run one of its files.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const built = new Set<string>();

/** Node arguments that run `file` (a .ts path inside `checkout`) from the checkout's compiled build. */
export function compiledArgs(file: string, checkout = process.cwd()): string[] {
  const root = resolve(checkout);
  if (!built.has(root)) {
    execFileSync(process.execPath, [resolve(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit', 'false', '--outDir', 'dist', '--sourceMap', 'false'], { cwd: root, stdio: 'inherit' });
    built.add(root);
  }
  return [resolve(root, 'dist', file.replace(/\.ts$/, '.js'))];
}
