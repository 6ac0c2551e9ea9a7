// Reference target for bench/relay/interleaved.ts --floor: the least any Node gateway does, in its
// own process: read the body, parse it, rewrite the model id, forward it over a kept-alive
// node:http agent, parse the answer and send it back. No authentication, validation, log, metrics
// or accounting, so its added latency is the floor on this machine that no Node relay can go
// under (loopback hops, two HTTP parses, the event loop). Prints {"port"} once listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordHttpSegments } from './segment-recorder.js';

if (process.env.CUSTOS_BENCH_SEGMENTS) recordHttpSegments(process.env.CUSTOS_BENCH_SEGMENTS);

const upstream = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true });
const read = (stream: http.IncomingMessage, done: (body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(Buffer.concat(chunks)));
};

const server = http.createServer((req, res) => read(req, (raw) => {
  const body = JSON.parse(raw.toString('utf8')) as { model: string; stream?: boolean };
  body.model = body.model.slice(body.model.indexOf('/') + 1);
  const payload = JSON.stringify(body);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: 'Bearer sk-bench' };
  const forward = http.request({ host: upstream.hostname, port: upstream.port, path: '/v1/chat/completions', method: 'POST', agent, headers }, (answer) => {
    // A stream is passed through as it arrives (headers first, then each chunk).
    if (body.stream) {
      res.writeHead(answer.statusCode ?? 502, { 'content-type': 'text/event-stream' });
      answer.pipe(res);
      return;
    }
    read(answer, (text) => {
      const json = JSON.stringify(JSON.parse(text.toString('utf8')));
      res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
    });
  });
  forward.on('error', () => { res.writeHead(502).end(); });
  forward.end(payload);
}));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`));
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
