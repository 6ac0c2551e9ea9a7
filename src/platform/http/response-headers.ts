// The headers every response starts with (helmet's security headers, Cache-Control: no-store,
// the request id), set in one step per request.
//
// Node checks the name and the value of every setHeader() call (two checks behind a wrapper that
// hides stack frames); for the 14 fixed headers that was several µs of a /healthz that costs
// ~190 µs in all (issue 15). These values are fixed at start-up, so they are checked once, here,
// and each request gets its own copy of them as Node's own header table: the object a response
// keeps under its kOutHeaders symbol (lower-case name -> [name, value]), which getHeader,
// setHeader, removeHeader and writeHead read. Routes still replace any of them with res.set().
// If a Node version keeps headers another way, the check at start-up fails and every header goes
// through setHeader() as before.
import { IncomingMessage, ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { Socket } from 'node:net';

type HeaderTable = Record<string, [string, string]>;
type SetHeaders = (res: ServerResponse, requestId: string) => void;

function headerTableSymbol(): symbol | undefined {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  return Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders' && (res as unknown as Record<symbol, unknown>)[s] === null);
}

/** Whether a response given `set` answers with exactly these headers, read back through Node's own API. */
function worksOnThisNode(set: SetHeaders, fixed: Array<[string, string]>): boolean {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  set(res, 'check-request-id');
  res.setHeader('Content-Type', 'application/json');
  res.removeHeader('x-frame-options');
  const expected = new Map(fixed.filter(([name]) => name.toLowerCase() !== 'x-frame-options').map(([name, value]) => [name.toLowerCase(), value]));
  expected.set('x-request-id', 'check-request-id').set('content-type', 'application/json');
  const names = res.getHeaderNames();
  if (names.length !== expected.size || names.some((name) => res.getHeader(name) !== expected.get(name))) return false;
  res.writeHead(200);
  const head = (res as unknown as { _header?: string })._header ?? '';
  return fixed.every(([name, value]) => name.toLowerCase() === 'x-frame-options' || head.includes(`\r\n${name}: ${value}\r\n`))
    && !head.toLowerCase().includes('x-frame-options');
}

/**
 * `fixed` are checked here; the request id passed per response must already be a safe header
 * value (request-context.ts admits only `[A-Za-z0-9._-]{8,128}` or makes a UUID).
 */
export function responseHeaderSetter(fixed: Array<[string, string]>): SetHeaders {
  for (const [name, value] of fixed) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
  const entries = fixed.map(([name, value]) => [name.toLowerCase(), name, value] as const);
  const viaSetHeader: SetHeaders = (res, requestId) => {
    for (const [, name, value] of entries) res.setHeader(name, value);
    res.setHeader('X-Request-Id', requestId);
  };
  const table = headerTableSymbol();
  if (!table) return viaSetHeader;
  const direct: SetHeaders = (res, requestId) => {
    const target = res as unknown as Record<symbol, HeaderTable | null>;
    // Something set a header before (none of our steps does): merge the ordinary way.
    if (target[table] !== null) return viaSetHeader(res, requestId);
    // Fresh [name, value] pairs per response: appendHeader() changes a pair in place.
    // A `{ __proto__: null }` literal, as Node makes it: Object.create(null) starts in V8's slower
    // dictionary mode.
    const headers = { __proto__: null } as unknown as HeaderTable;
    for (const [key, name, value] of entries) headers[key] = [name, value];
    // The caller's request id is a UUID it made or a client's value that passed its stricter
    // pattern (letters, digits, `._-`), so it needs no second check.
    headers['x-request-id'] = ['X-Request-Id', requestId];
    target[table] = headers;
  };
  return worksOnThisNode(direct, fixed) ? direct : viaSetHeader;
}
