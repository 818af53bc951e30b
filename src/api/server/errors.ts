/**
 * Errors as an OpenAI-compatible server answers them: a status and
 * {error: {message, type, param, code}}, `param` naming the request field at fault. Every
 * failure becomes one of these; a response never carries a stack trace.
 */
import {AbortError, DisposedError, HireError, OverloadedError, UsageError} from '../../core/errors.js';

export interface ErrorBody {
  error: {message: string; type: string; param: string | null; code: string | null};
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds for a Retry-After header (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  get body(): ErrorBody {
    return {error: {message: this.message, type: this.type, param: this.param, code: this.code}};
  }
}

/** 400: a request field is missing, of the wrong type, or out of range. */
export function invalid(param: string | null, message: string, code: string | null = null): ApiError {
  return new ApiError(400, message, 'invalid_request_error', param, code);
}

/** Library option names -> the request field that sets them. */
const FIELDS: Record<string, string> = {
  maxTokens: 'max_tokens',
  topP: 'top_p',
  topK: 'top_k',
  minP: 'min_p',
  repetitionPenalty: 'repetition_penalty',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
  kPrime: 'k_prime',
  logprobsTail: 'logprobs_tail',
};

/** Why a request timed out (the signal's reason). */
export class RequestTimeout extends Error {
  constructor(readonly ms: number) {
    super(`the request took longer than ${ms} ms`);
  }
}

/** Any failure as an ApiError (an unexpected one says only that it happened). */
export function toApiError(e: unknown, fieldOf: (option: string) => string = (o) => FIELDS[o] ?? o): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof OverloadedError) {
    return e.reason === 'queue_full'
      ? new ApiError(429, e.message, 'rate_limit_error', null, 'queue_full', e.retryAfter)
      : new ApiError(503, e.message, 'server_error', null, 'shutting_down', e.retryAfter);
  }
  if (e instanceof AbortError) {
    const cause = e.cause;
    if (cause instanceof RequestTimeout) return new ApiError(504, cause.message, 'timeout_error', null, 'timeout');
    return new ApiError(503, cause instanceof Error ? cause.message : 'the request was cancelled', 'server_error', null, 'cancelled', 5);
  }
  if (e instanceof UsageError) return invalid(e.option === null ? null : fieldOf(e.option), e.message);
  if (e instanceof DisposedError) return new ApiError(503, 'the model is no longer loaded', 'server_error', null, 'unavailable', 5);
  if (e instanceof HireError && e.code === 'E_TOKENIZER') return invalid(null, e.message);
  // a fastify error (bad JSON, body too large, wrong content type) carries its status
  const status = (e as {statusCode?: unknown})?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = (e as {code?: string}).code;
    const message = code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'the request body is too large' : code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'the request body must be JSON (content-type: application/json)' : (e as Error).message;
    return new ApiError(status, message, 'invalid_request_error', null, status === 413 ? 'body_too_large' : null);
  }
  return new ApiError(500, e instanceof HireError ? e.message : 'internal server error', 'server_error');
}
