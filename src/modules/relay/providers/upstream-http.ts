// The relay's HTTP client to the providers: node:http(s) with keep-alive agents owned by the
// relay (one connection pool per process, closed with it), instead of fetch, whose WHATWG
// streams and header objects were a visible share of a relayed call in the profile. A request
// that fails on a reused keep-alive socket before any answer (the provider closed it while idle)
// is sent once more on a fresh one; nothing else is retried.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { urlToHttpOptions } from 'node:url';
import { UpstreamError, type CallSignal } from './provider-types.js';

export interface UpstreamResponse {
  status: number;
  ok: boolean;
  /** The whole body parsed as JSON (rejects with an AbortError when the call was aborted). */
  json(): Promise<unknown>;
  /** The body as it arrives (constant memory), for streams. */
  body: AsyncIterable<Uint8Array>;
  /** Discards the body unread. */
  cancel(): void;
}

export interface UpstreamRequest {
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  signal: CallSignal;
}

const abortError = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });

/**
 * An https agent whose sockets have TCP_NODELAY, set once per connection rather than by each
 * request (ClientRequest.setNoDelay defers a listener per request until its socket is assigned).
 * http.Agent does this itself (its noDelay option); tls.connect ignores that option.
 */
class NoDelayHttpsAgent extends https.Agent {
  override createConnection(options: http.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void) {
    const socket = super.createConnection(options, callback);
    (socket as Socket | null | undefined)?.setNoDelay(true);
    return socket;
  }
}

export function createUpstreamClient() {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, noDelay: true, maxSockets: 1024, maxFreeSockets: 256, scheduling: 'lifo' }),
    'https:': new NoDelayHttpsAgent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 256, scheduling: 'lifo' }),
  };

  function wrap(res: http.IncomingMessage): UpstreamResponse {
    const status = res.statusCode ?? 0;
    return {
      status,
      ok: status >= 200 && status < 300,
      body: res,
      cancel: () => { res.destroy(); },
      json: () => new Promise((resolve, reject) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.once('error', (error) => reject(error.name === 'AbortError' ? error : new UpstreamError('upstream_error', status)));
        res.once('aborted', () => reject(abortError()));
        res.once('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
          } catch {
            reject(new UpstreamError('upstream_error', status));
          }
        });
      }),
    };
  }

  // Each endpoint's URL taken apart once: a URL object per call, and Node's conversion of it to
  // request options, were a visible share of the client in the profile (issue 9). Endpoints are
  // the configured base URLs with a fixed path each, so the map stays small.
  const endpoints = new Map<string, { transport: typeof http | typeof https; options: http.RequestOptions }>();
  function endpoint(url: string) {
    let known = endpoints.get(url);
    if (!known) {
      const parsed = new URL(url);
      const secure = parsed.protocol === 'https:';
      if (!secure && parsed.protocol !== 'http:') throw new UpstreamError('upstream_unreachable', null);
      const options = { ...urlToHttpOptions(parsed), agent: agents[secure ? 'https:' : 'http:'] };
      endpoints.set(url, (known = { transport: secure ? https : http, options }));
    }
    return known;
  }

  function send(url: string, init: UpstreamRequest, retry: boolean): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      if (init.signal.aborted) return reject(abortError());
      const { transport, options } = endpoint(url);
      const req = transport.request({
        ...options,
        method: init.method,
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
      });
      // Listened to here rather than handed to http.request as `signal`: Node then tracks the
      // request's end with stream.finished, several listeners per call for one removal.
      const abort = () => req.destroy(abortError());
      init.signal.addEventListener('abort', abort);
      req.once('close', () => init.signal.removeEventListener('abort', abort));
      req.once('response', (res) => resolve(wrap(res)));
      req.once('error', (error: NodeJS.ErrnoException) => {
        if (init.signal.aborted) return reject(abortError());
        if (retry && req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
          send(url, init, false).then(resolve, reject);
          return;
        }
        reject(new UpstreamError('upstream_unreachable', null));
      });
      req.end(init.body);
    });
  }

  return {
    /** POSTs to a provider; an abort rejects with an AbortError for the caller to classify. */
    request: (url: string, init: UpstreamRequest) => send(url, init, true),
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
