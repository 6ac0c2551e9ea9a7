// What a chat says when the provider fails: a problem built from the failure's reason and status
// only. A provider's own error text is never read (providers quote prompts in it), and neither the
// prompt nor the partial answer is echoed.
import { HttpProblem, TooManyRequestsError } from '../../platform/http/problem.js';
import { UpstreamError } from '../relay/providers/provider-types.js';

const NOTHING_KEPT = 'Nothing was stored in the chat and nothing was charged.';

export function upstreamProblem(error: unknown, timedOut: boolean, provider: string): HttpProblem {
  if (timedOut) return new HttpProblem(504, 'upstream-timeout', 'The provider did not answer in time', `${provider} went silent before the answer was complete. ${NOTHING_KEPT} Retry, or choose another model.`);
  const failure = error instanceof UpstreamError ? error : new UpstreamError('stream_error', null);
  switch (failure.reason) {
    case 'upstream_rate_limited':
      return new TooManyRequestsError(`${provider} is rate-limiting this model. ${NOTHING_KEPT} Retry shortly.`, 1);
    case 'upstream_unreachable':
      return new HttpProblem(502, 'upstream-unreachable', 'The provider could not be reached', `${provider} could not be reached. ${NOTHING_KEPT}`);
    case 'stream_error':
      return new HttpProblem(502, 'upstream-stream-failed', 'The provider broke off the answer', `${provider} ended the answer with an error. Its message is not shown, because provider messages can quote your chat. ${NOTHING_KEPT}`);
    default: {
      const status = failure.upstreamStatus;
      return new HttpProblem(502, 'upstream-failed', 'The provider failed', `${provider} answered with an error${status ? ` (status ${status})` : ''}. Its message is not shown, because provider messages can quote your chat. ${NOTHING_KEPT}`);
    }
  }
}
