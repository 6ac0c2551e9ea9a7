// Benchmark upstream (a child process of relay.bench.ts): the tests' fake provider on 127.0.0.1.
// Prints {"url": "..."} once listening.
import { startFakeProvider } from '../../test/relay/fake-provider.js';
import { recordHttpSegments } from './segment-recorder.js';

if (process.env.CUSTOS_BENCH_SEGMENTS) recordHttpSegments(process.env.CUSTOS_BENCH_SEGMENTS);

const fake = await startFakeProvider();
process.stdout.write(`${JSON.stringify({ url: fake.baseUrl })}\n`);
process.on('SIGTERM', () => { void fake.close().then(() => process.exit(0)); });
