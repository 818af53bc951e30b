/**
 * What went wrong talking to the Hub, in one line that says what to do: the Hub's HTTP errors
 * (refused, not found), no route to it (no network, wrong HF_ENDPOINT), a transfer cut short.
 * @huggingface/hub throws HubApiError (with statusCode) for answers and fetch's TypeError for
 * failed connections; a body stream that breaks may reject with a bare string.
 */
import {AbortError, HubError} from '../../errors.js';

/** The one-line reason inside an error from fetch or the hub library. */
export function failureReason(err: unknown): string {
  if (typeof err === 'string') return err;
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as {code?: string; message?: string} | undefined;
  // undici's codes (UND_ERR_SOCKET) say less than its messages ("other side closed")
  const detail = cause?.code && !cause.code.startsWith('UND_ERR') ? cause.code : cause?.message;
  const text = err.message.split('\n')[0]!.replace(/\. URL: .*$/, '');
  return detail && !text.includes(detail) ? `${text}: ${detail}` : text;
}

function statusOf(err: unknown): number | null {
  const status = (err as {statusCode?: unknown} | null)?.statusCode;
  return typeof status === 'number' ? status : null;
}

/** fetch's own failure to connect (DNS, refused, TLS), as opposed to an answer from the Hub. */
function isConnectFailure(err: unknown): boolean {
  return err instanceof TypeError && /fetch failed/.test(err.message);
}

export interface FailureContext {
  /** The reference as given, for the message. */
  ref: string;
  endpoint: string;
  cacheDir: string;
  /** The repo's cache folder name, models--org--name. */
  folder: string;
  /** Whether a token was sent. */
  token: boolean;
  signal?: AbortSignal;
}

/** The HubError (or AbortError) for a failed request to the Hub. */
export function hubFailure(err: unknown, c: FailureContext): Error {
  if (err instanceof HubError || err instanceof AbortError) return err;
  if (c.signal?.aborted) return new AbortError(`download of ${c.ref}`, {cause: c.signal.reason});
  const status = statusOf(err);
  if (status === 401 || status === 403) {
    const fix = c.token
      ? 'the token sent (HF_TOKEN or the saved login) may not read it: check the name, and for a gated model accept its terms on the Hub'
      : 'check the name; a gated or private model needs a token: set HF_TOKEN';
    return new HubError(c.ref, `${c.endpoint} refused it (HTTP ${status}): no such model, or one you may not read; ${fix}`, {cause: err});
  }
  if (status === 404) return new HubError(c.ref, `${c.endpoint} has no such model or revision (HTTP 404); check the name and the part after @`, {cause: err});
  if (status !== null) return new HubError(c.ref, `${c.endpoint} answered HTTP ${status} (${failureReason(err)}); try again later`, {cause: err});
  if (isConnectFailure(err)) {
    return new HubError(
      c.ref,
      `cannot reach ${c.endpoint} (${failureReason(err)}); check the network connection (HF_ENDPOINT sets another hub), or copy the model's ${c.folder} folder into ${c.cacheDir} and load it without downloading`,
      {cause: err},
    );
  }
  return new HubError(c.ref, `download failed: ${failureReason(err)}`, {cause: err});
}
