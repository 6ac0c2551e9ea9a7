// The control for bench/http: a bare Express 5 app answering /healthz with the same JSON as
// Custos, nothing else. Started by http-bench.ts on the port given as its only argument.
import express from 'express';

const app = express();
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
const server = app.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
