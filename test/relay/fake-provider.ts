// A local stand-in for the AI providers, over real HTTP on 127.0.0.1: OpenAI's Chat Completions
// and Embeddings (whole and SSE). Its behaviour is steered by directives in the last message, so
// concurrent tests cannot disturb each other:
//   [[status:503]]        answer that status, with an error body quoting the prompt (as providers do)
//   [[slow:50]]           50 ms between stream chunks
//   [[silent:300]]        300 ms after the headers before the first chunk
//   [[midstream-error]]   an error event (quoting the prompt) after two chunks
//   [[hang]]              never answer
//   [[tokens:5000]]       report 5000 completion tokens
// The answer quotes the prompt ("You said: …"), so a canary in a prompt is in the completion too.
//   [[tool]]              (Anthropic, Gemini) text, then two tool calls
//   [[max]]               (Anthropic) stop because of max_tokens
// Anthropic's Messages API lives under /anthropic/v1, Gemini's under /google/v1beta (with
// embedContent and batchEmbedContents: a vector of outputDimensionality numbers, default 4,
// whose first value is the text's length; no token counts, as Gemini reports none).
// It records the credential header of every call, and how many calls are open.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeProvider {
  baseUrl: string;
  authorizations: string[];
  bodies: Array<Record<string, unknown>>;
  open: number;
  aborted: number;
  close(): Promise<void>;
}

const directive = (text: string, name: string) => new RegExp(`\\[\\[${name}(?::(\\d+))?\\]\\]`).exec(text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lastText(body: Record<string, unknown>): string {
  const gemini = (body.contents as Array<{ parts: Array<{ text?: string }> }> | undefined)?.at(-1)?.parts.map((p) => p.text ?? '').join('');
  if (gemini !== undefined) return gemini;
  const messages = (body.messages ?? []) as Array<{ content?: unknown }>;
  const last = messages.at(-1)?.content;
  const content = Array.isArray(last) ? last.map((b: { text?: string }) => b.text ?? '').join('') : last ?? body.input ?? '';
  return typeof content === 'string' ? content : JSON.stringify(content);
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const state: FakeProvider = { baseUrl: '', authorizations: [], bodies: [], open: 0, aborted: 0, close: async () => {} };

  async function openAi(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) {
    const prompt = lastText(body);
    const status = directive(prompt, 'status');
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Invalid request: ${prompt}`, type: 'invalid_request_error', code: null } }));
      return;
    }
    if (directive(prompt, 'hang')) return; // never answers; the relay's timeout must fire
    const inputTokens = words(JSON.stringify(body.messages ?? body.input));
    if (req.url === '/v1/embeddings') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const vector = [0.1, 0.2, 0.3];
      // The SDK asks for base64 (little-endian float32) by default.
      const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding }], model: body.model, usage: { prompt_tokens: inputTokens, total_tokens: inputTokens } }));
      return;
    }
    const pieces = ['You', ' said:', ` ${prompt}`];
    const completionTokens = Number(directive(prompt, 'tokens')?.[1] ?? 7);
    const usage = { prompt_tokens: inputTokens, completion_tokens: completionTokens, total_tokens: inputTokens + completionTokens, prompt_tokens_details: { cached_tokens: 2 } };
    const id = 'chatcmpl-fake';
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop' }], usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const silent = directive(prompt, 'silent');
    if (silent) await sleep(Number(silent[1]));
    const slow = Number(directive(prompt, 'slow')?.[1] ?? 0);
    const withUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }));
    for (const [i, piece] of pieces.entries()) {
      if (res.destroyed) return;
      if (slow) await sleep(slow);
      if (i === 2 && directive(prompt, 'midstream-error')) {
        res.end(`data: ${JSON.stringify({ error: { message: `Server overloaded while answering: ${prompt}`, type: 'server_error' } })}\n\n`);
        return;
      }
      res.write(chunk({ content: piece }));
    }
    res.write(chunk({}, 'stop'));
    if (withUsage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage })}\n\n`);
    res.end('data: [DONE]\n\n');
  }

  const sse = (res: ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  async function anthropic(res: ServerResponse, body: Record<string, unknown>) {
    const prompt = lastText(body);
    const status = directive(prompt, 'status');
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: `Bad prompt: ${prompt}` } }));
      return;
    }
    if (directive(prompt, 'hang')) return;
    const tool = Boolean(directive(prompt, 'tool'));
    const stop = tool ? 'tool_use' : directive(prompt, 'max') ? 'max_tokens' : 'end_turn';
    const inputTokens = words(JSON.stringify(body.messages));
    const startUsage = { input_tokens: inputTokens, output_tokens: 1, cache_read_input_tokens: 3, cache_creation_input_tokens: 1 };
    const tools = [{ id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }, { id: 'toolu_2', name: 'time', input: { zone: 'UTC' } }];
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'msg_fake', type: 'message', role: 'assistant', model: body.model, stop_reason: stop,
        content: [{ type: 'text', text: `You said: ${prompt}` }, ...(tool ? tools.map((t) => ({ type: 'tool_use', ...t })) : [])],
        usage: { ...startUsage, output_tokens: 9 },
      }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    const slow = Number(directive(prompt, 'slow')?.[1] ?? 0);
    sse(res, 'message_start', { type: 'message_start', message: { id: 'msg_fake', type: 'message', role: 'assistant', model: body.model, content: [], usage: startUsage } });
    sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    sse(res, 'ping', { type: 'ping' });
    for (const [i, piece] of ['You', ' said:', ` ${prompt}`].entries()) {
      if (res.destroyed) return;
      if (slow) await sleep(slow);
      if (i === 1 && directive(prompt, 'midstream-error')) {
        sse(res, 'error', { type: 'error', error: { type: 'overloaded_error', message: `Overloaded while answering: ${prompt}` } });
        res.end();
        return;
      }
      sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
    if (tool) {
      for (const [i, t] of tools.entries()) {
        const json = JSON.stringify(t.input);
        sse(res, 'content_block_start', { type: 'content_block_start', index: i + 1, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: i + 1, delta: { type: 'input_json_delta', partial_json: json.slice(0, 5) } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: i + 1, delta: { type: 'input_json_delta', partial_json: json.slice(5) } });
        sse(res, 'content_block_stop', { type: 'content_block_stop', index: i + 1 });
      }
    }
    sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 9 } });
    sse(res, 'message_stop', { type: 'message_stop' });
    res.end();
  }

  const geminiVector = (text: string, dims: unknown) => Array.from({ length: typeof dims === 'number' ? dims : 4 }, (_, i) => (i === 0 ? text.length : i / 10));
  type GeminiEmbedRequest = { model?: string; content?: { parts?: Array<{ text?: string }> }; outputDimensionality?: number };
  const embedText = (r: GeminiEmbedRequest) => (r.content?.parts ?? []).map((p) => p.text ?? '').join('');

  async function gemini(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) {
    if (req.url!.endsWith(':embedContent') || req.url!.endsWith(':batchEmbedContents')) {
      const requests = (body.requests as GeminiEmbedRequest[] | undefined) ?? [body as GeminiEmbedRequest];
      const status = directive(requests.map(embedText).join(' '), 'status');
      if (status) {
        res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: Number(status[1]), message: `Invalid: ${requests.map(embedText).join(' ')}`, status: 'INVALID_ARGUMENT' } }));
        return;
      }
      const vectors = requests.map((r) => ({ values: geminiVector(embedText(r), r.outputDimensionality) }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body.requests ? { embeddings: vectors } : { embedding: vectors[0] }));
      return;
    }
    const prompt = lastText(body);
    const status = directive(prompt, 'status');
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: Number(status[1]), message: `Invalid: ${prompt}`, status: 'INVALID_ARGUMENT' } }));
      return;
    }
    if (directive(prompt, 'hang')) return;
    const tool = Boolean(directive(prompt, 'tool'));
    const promptTokenCount = words(JSON.stringify(body.contents));
    const calls = tool ? [{ functionCall: { name: 'weather', args: { city: 'Paris' } } }, { functionCall: { name: 'time', args: { zone: 'UTC' } } }] : [];
    const finalUsage = { promptTokenCount, candidatesTokenCount: 5, thoughtsTokenCount: 2, cachedContentTokenCount: 1, totalTokenCount: promptTokenCount + 7 };
    if (!req.url!.includes(':streamGenerateContent')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: `You said: ${prompt}` }, ...calls] }, finishReason: 'STOP' }], usageMetadata: finalUsage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    const pieces = ['You', ' said:', ` ${prompt}`];
    for (const [i, piece] of pieces.entries()) {
      if (i === 1 && directive(prompt, 'midstream-error')) {
        res.end(`data: ${JSON.stringify({ error: { code: 503, message: `Overloaded: ${prompt}`, status: 'UNAVAILABLE' } })}\n\n`);
        return;
      }
      const last = i === pieces.length - 1;
      res.write(`data: ${JSON.stringify({
        candidates: [{ content: { role: 'model', parts: [{ text: piece }, ...(last ? calls : [])] }, ...(last ? { finishReason: 'STOP' } : {}) }],
        usageMetadata: last ? finalUsage : { promptTokenCount, candidatesTokenCount: i + 1 },
      })}\r\n\r\n`);
    }
    res.end();
  }

  const server: Server = createServer(async (req, res) => {
    state.open++;
    let finished = false;
    res.on('finish', () => { finished = true; });
    res.on('close', () => { state.open--; if (!finished) state.aborted++; });
    try {
      state.authorizations.push(String(req.headers.authorization ?? (req.headers['x-api-key'] ? `x-api-key ${req.headers['x-api-key']}` : `x-goog-api-key ${req.headers['x-goog-api-key']}`)));
      const body = await readBody(req);
      state.bodies.push(body);
      if (req.method === 'POST' && (req.url === '/v1/chat/completions' || req.url === '/v1/embeddings')) return await openAi(req, res, body);
      if (req.method === 'POST' && req.url === '/anthropic/v1/messages') return await anthropic(res, body);
      if (req.method === 'POST' && req.url?.startsWith('/google/v1beta/models/')) return await gemini(req, res, body);
      res.writeHead(404).end();
    } catch {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  state.baseUrl = `http://127.0.0.1:${port}`;
  state.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return state;
}
