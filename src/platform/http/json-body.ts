// JSON in and out of a request, for the hot routes (the relay's /v1 calls, issue 9).
//
// In: most JSON bodies are plain (`Content-Type: application/json`, UTF-8, not compressed, a
// Content-Length within the limit) and are read here: collect the bytes, parse. body-parser's
// json parser does the same through raw-body, iconv, type-is and content-type, a measurable share
// of a relayed call; it still reads every other body (other charsets and +json types, compressed
// or chunked bodies, bodies over the limit), so its errors for those stay as they were. What
// body-parser does to a plain body is kept: a leading BOM is dropped, an empty body is `{}`, and
// a body whose first character is not `{` or `[` is refused as it refuses it (strict mode).
import type { IncomingMessage } from 'node:http';
import express, { type Response } from 'express';
import { cutShortBody, invalidJsonBody } from './problem.js';
import type { Handler } from './sequence.js';

/** Whether a request carries a body: without Content-Length or Transfer-Encoding it has none (RFC 9112 §6.3). */
export const hasBody = (req: IncomingMessage) => req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;

const plainJson = /^application\/json[ \t]*(;[ \t]*charset[ \t]*=[ \t]*("utf-8"|utf-8)[ \t]*)?$/i;

/** The declared length of a plain JSON body within `limit`, or -1 when body-parser should read it. */
function plainLength(req: IncomingMessage, limit: number): number {
  const { headers } = req;
  const type = headers['content-type'];
  const encoding = headers['content-encoding'];
  if (!type || !plainJson.test(type) || headers['transfer-encoding'] !== undefined || (encoding !== undefined && encoding.toLowerCase() !== 'identity')) return -1;
  const length = Number(headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 && length <= limit ? length : -1;
}



function parse(bytes: Buffer): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  // The first character after JSON whitespace, found without copying the body.
  const first = /[^ \t\n\r]/.exec(text)?.[0];
  if (first !== '{' && first !== '[') throw invalidJsonBody();
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJsonBody();
  }
}

/**
 * The body step: `req.body` is the parsed JSON; a request without a body skips it and keeps
 * `req.body` undefined, as body-parser leaves it (issue 15).
 */
export function jsonBodies(limit: number): Handler {
  const parser = express.json({ limit, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    if (!hasBody(req)) return next();
    const length = plainLength(req, limit);
    if (length === -1) return parser(req, res, next);
    const chunks: Buffer[] = [];
    // The client went away mid-body (Node's 'aborted' error, code ECONNRESET): a 400 as
    // body-parser gives, not an error that reads like a lost database connection.
    const cutShort = () => next(cutShortBody());
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('error', cutShort);
    req.once('end', () => {
      req.off('error', cutShort);
      let body: unknown;
      try {
        body = parse(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      } catch (error) {
        return next(error);
      }
      req.body = body;
      next();
    });
  };
}

/**
 * Answers `body` as JSON without res.json's extras (an ETag, which no client of a POST uses, and
 * the freshness check). When something has wrapped res.json for this response (the OpenAPI
 * response validator, where it is on), res.json is used, so responses stay validated.
 */
export function sendJson(res: Response, body: unknown, status = 200): void {
  // The validator's wrapper (its express-mung) is set as the response's own res.json.
  const text = Object.hasOwn(res, 'json') ? undefined : JSON.stringify(body);
  if (text === undefined) {
    res.status(status).json(body);
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
