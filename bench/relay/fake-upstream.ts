// Benchmark upstream (a child process of relay.bench.ts): the tests' fake provider on 127.0.0.1.
// Prints {"url": "..."} once listening.
import { startFakeProvider } from '../../test/relay/fake-provider.js';

const fake = await startFakeProvider();
process.stdout.write(`${JSON.stringify({ url: fake.baseUrl })}\n`);
process.on('SIGTERM', () => { void fake.close().then(() => process.exit(0)); });
