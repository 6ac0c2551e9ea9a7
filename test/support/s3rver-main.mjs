// Runs s3rver in its own process: node --openssl-legacy-provider s3rver-main.mjs <port> <dir> <bucket>…
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers through
// its legacy provider; a separate process keeps that flag away from the code under test.
import S3rver from 's3rver';

const [port, directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({ port: Number(port), address: '127.0.0.1', directory, silent: process.env.S3RVER_LOG !== '1', configureBuckets: buckets.map((name) => ({ name })) });
await server.run();
process.stdout.write('ready\n');
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
