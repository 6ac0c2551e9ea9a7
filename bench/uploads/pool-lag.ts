// Event-loop probe: the API thread's lag while the pool's worker parses the 10,000-page PDF.
// Run: npx tsx bench/uploads/pool-lag.ts [timeoutMs=20000] [heapMb=256]
import { createExtractionPool } from '../../src/modules/chat/chat-extraction-pool.js';
import { makeSharedStreamPdf } from '../../test/chat/fixtures.js';
import { performance } from 'node:perf_hooks';
const pool = createExtractionPool({ limits: { timeoutMs: Number(process.argv[2] ?? 20000), maxPages: 20000, maxHeapMb: Number(process.argv[3] ?? 256), maxInflatedBytes: 1 << 28, maxZipEntries: 10000, maxXmlDepth: 256 }, concurrency: 2, queueLength: 2, logger: { warn: ((o: unknown, m?: string) => console.error(m, o)) as never } });
const pdf = await makeSharedStreamPdf(10000, 2);
let last = performance.now(); let maxLag = 0; const big: Array<[number, number]> = [];
const t0 = performance.now();
const timer = setInterval(() => { const now = performance.now(); const lag = now - last - 10; if (lag > maxLag) maxLag = lag; if (lag > 100) big.push([Math.round(now - t0), Math.round(lag)]); last = now; }, 10);
const elu0 = performance.eventLoopUtilization();
try { await pool.extract('pdf', pdf); } catch (e) { console.log((e as Error).message.slice(0, 100)); }
clearInterval(timer);
console.log('took', Math.round(performance.now() - t0), 'maxLag', Math.round(maxLag), 'big', JSON.stringify(big.slice(0, 20)), 'elu', performance.eventLoopUtilization(elu0).utilization.toFixed(3));
