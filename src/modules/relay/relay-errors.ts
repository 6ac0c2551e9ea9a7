// Errors on /v1 in OpenAI's shape, {error: {message, type, code}}, which the official SDKs read
// (APIError.message/.type/.code). Every message is written here or by the relay service, never
// copied from a provider: an upstream's error text can echo the prompt.
import type { Response } from 'express';
import type { HttpProblem } from '../../platform/http/problem.js';

export type OpenAiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'insufficient_quota' | 'api_error' | 'timeout_error';

export class RelayError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAiErrorType,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RelayError';
  }

  body() {
    return { error: { message: this.message, type: this.type, code: this.code, param: null } };
  }
}

const byStatus: Record<number, [OpenAiErrorType, string]> = {
  400: ['invalid_request_error', 'invalid_request'],
  401: ['authentication_error', 'invalid_api_key'],
  403: ['permission_error', 'forbidden'],
  404: ['not_found_error', 'not_found'],
  405: ['invalid_request_error', 'method_not_allowed'],
  413: ['invalid_request_error', 'request_too_large'],
  415: ['invalid_request_error', 'unsupported_media_type'],
  429: ['rate_limit_error', 'rate_limited'],
};

/** The platform's problem (authentication, validation, dependency failures) in OpenAI's shape. */
export function relayErrorFromProblem(problem: HttpProblem): RelayError {
  const [type, code] = byStatus[problem.status] ?? (problem.status >= 500 ? ['api_error', problem.status === 503 ? 'service_unavailable' : 'internal_error'] : ['invalid_request_error', 'invalid_request']);
  const message = problem.status === 401
    ? 'Send a valid Custos API key (cus_live_… or cus_test_…) as "Authorization: Bearer <key>". Session tokens are not accepted under /v1.'
    : problem.detail;
  return new RelayError(problem.status, type, code, message, problem.headers);
}

export function sendRelayError(res: Response, error: RelayError, requestId: string): void {
  res.status(error.status).set(error.headers).set('X-Request-Id', requestId).type('application/json').send(JSON.stringify(error.body()));
}
