// RFC 9457 problem details. Every error the API returns goes through `toProblem`, so no stack
// trace, SQL text or secret can leave the process: unknown errors become a bare 500 that names
// only the request id.
export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const typeUri = (slug: string) => `urn:custos:problem:${slug}`;

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }

  body(): ProblemBody {
    return { type: typeUri(this.slug), title: this.title, status: this.status, detail: this.detail, ...this.extensions };
  }
}

export class BadRequestError extends HttpProblem {
  constructor(detail: string, errors?: FieldError[]) {
    super(400, 'validation', 'Your request is not valid', detail, errors ? { errors } : {});
  }
}
export class UnauthorizedError extends HttpProblem {
  constructor(detail = 'Send a valid bearer token in the Authorization header.') {
    super(401, 'unauthenticated', 'Authentication required', detail, {}, { 'WWW-Authenticate': 'Bearer' });
  }
}
export class ForbiddenError extends HttpProblem {
  constructor(detail: string) {
    super(403, 'forbidden', 'Not allowed', detail);
  }
}
/** Another tenant's resource is 404, never 403, so ids cannot be probed. */
export class NotFoundError extends HttpProblem {
  constructor(detail = 'No such resource.') {
    super(404, 'not-found', 'Not found', detail);
  }
}
export class ConflictError extends HttpProblem {
  constructor(detail: string, extensions: Record<string, unknown> = {}) {
    super(409, 'conflict', 'Conflict', detail, extensions);
  }
}
export class GoneError extends HttpProblem {
  constructor(detail: string) {
    super(410, 'gone', 'Gone', detail);
  }
}
export class PayloadTooLargeError extends HttpProblem {
  constructor(detail: string) {
    super(413, 'payload-too-large', 'Payload too large', detail);
  }
}
export class UnsupportedMediaTypeError extends HttpProblem {
  constructor(detail: string) {
    super(415, 'unsupported-media-type', 'Unsupported media type', detail);
  }
}
export class UnprocessableError extends HttpProblem {
  constructor(detail: string, extensions: Record<string, unknown> = {}) {
    super(422, 'unprocessable', 'Unprocessable content', detail, extensions);
  }
}
export class TooManyRequestsError extends HttpProblem {
  constructor(detail: string, retryAfterSeconds: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
    super(429, 'rate-limited', 'Too many requests', detail, { retryAfter }, { 'Retry-After': String(retryAfter) });
  }
}
export class ServiceUnavailableError extends HttpProblem {
  constructor(detail: string, retryAfterSeconds = 5) {
    super(503, 'unavailable', 'Service unavailable', detail, {}, { 'Retry-After': String(retryAfterSeconds) });
  }
}

const postgresDownCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

function isDependencyDown(error: Record<string, unknown>): 'PostgreSQL' | 'Redis' | undefined {
  const name = String(error.name ?? '');
  const message = String(error.message ?? '');
  if (name === 'MaxRetriesPerRequestError' || /Stream isn't writeable|Connection is closed|enableOfflineQueue|Command timed out/i.test(message)) return 'Redis';
  if (name === 'KnexTimeoutError' || /Timeout acquiring a connection|Connection terminated/i.test(message)) return 'PostgreSQL';
  if (typeof error.code === 'string' && postgresDownCodes.has(error.code)) {
    return /6379|redis/i.test(message) ? 'Redis' : 'PostgreSQL';
  }
  return undefined;
}

interface ValidatorError {
  status: number;
  message: string;
  errors?: Array<{ path?: string; message?: string }>;
}

/** The 400s for a body that cannot be read (body-parser's and json-body.ts's alike). */
export const invalidJsonBody = () => new BadRequestError('The request body is not valid JSON.');
export const cutShortBody = () => new BadRequestError('The request body ended before its declared length.');

/** Maps any thrown value to a problem. `unexpected` is true when it should be logged as a fault. */
export function toProblem(error: unknown): { problem: HttpProblem; unexpected: boolean } {
  if (error instanceof HttpProblem) return { problem: error, unexpected: false };
  const e = (error ?? {}) as Record<string, unknown>;

  // body-parser
  if (e.type === 'entity.too.large') {
    return { problem: new PayloadTooLargeError(`The request body is larger than the ${e.limit} bytes allowed.`), unexpected: false };
  }
  if (e.type === 'entity.parse.failed') {
    return { problem: invalidJsonBody(), unexpected: false };
  }
  if (e.type === 'charset.unsupported') {
    return { problem: new UnsupportedMediaTypeError(`The charset ${JSON.stringify(String(e.charset).slice(0, 40))} is not supported for JSON; send UTF-8.`), unexpected: false };
  }
  if (e.type === 'encoding.unsupported') {
    return { problem: new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(String(e.encoding).slice(0, 40))} is not supported; send the body uncompressed, or gzip, deflate or br.`), unexpected: false };
  }
  if (e.type === 'request.aborted' || e.type === 'request.size.invalid') {
    return { problem: cutShortBody(), unexpected: false };
  }

  const dependency = isDependencyDown(e);
  if (dependency) {
    return { problem: new ServiceUnavailableError(`${dependency} is unreachable; try again shortly.`), unexpected: true };
  }

  // express-openapi-validator errors carry a status and a list of { path, message }.
  const v = e as unknown as ValidatorError;
  if (typeof v.status === 'number' && v.status >= 400 && v.status < 500 && Array.isArray(v.errors)) {
    const errors = v.errors.map((item) => ({ field: fieldName(item.path), message: item.message ?? 'is invalid' }));
    switch (v.status) {
      case 400:
        return { problem: new BadRequestError(`Fix these fields: ${errors.map((x) => `${x.field} ${x.message}`).join('; ')}.`, errors), unexpected: false };
      case 404:
        return { problem: new NotFoundError('No route matches this path. See /docs for the API reference.'), unexpected: false };
      case 405:
        return { problem: new HttpProblem(405, 'method-not-allowed', 'Method not allowed', `This path does not accept ${String((e as { method?: string }).method ?? 'this method')}. See /docs.`), unexpected: false };
      case 413:
        return { problem: new PayloadTooLargeError(v.message), unexpected: false };
      case 415:
        return { problem: new UnsupportedMediaTypeError(`${v.message}. See /docs for the accepted content types.`), unexpected: false };
      default:
        return { problem: new HttpProblem(v.status, 'client-error', 'Request error', v.message), unexpected: false };
    }
  }
  return {
    problem: new HttpProblem(500, 'internal', 'Internal error', 'Something went wrong on our side. Quote the request id when you report it.'),
    unexpected: true,
  };
}

/** "/body/password" -> "body.password"; ".query.limit" -> "query.limit". */
function fieldName(path: string | undefined): string {
  if (!path) return 'request';
  return path.replace(/^[./]+/, '').replace(/\//g, '.');
}
