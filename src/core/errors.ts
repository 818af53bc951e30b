/**
 * One error class per failure kind. Every message says what went wrong, where (the file, when
 * there is one), and how to fix it. Core code throws these; commands turn them into a one-line
 * message and an exit code. `code` strings are stable so callers can branch on them:
 *
 *   code           class                          failure
 *   E_USAGE        UsageError                     bad option, flag or argument (CLI exit 2)
 *   E_SAFETENSORS  SafetensorsError               malformed safetensors file or index
 *   E_GGUF         GgufError                      malformed or unsupported GGUF file
 *   E_CONFIG       ConfigError                    config.json missing, unreadable or inconsistent
 *   E_ARCHITECTURE UnsupportedArchitectureError   a model family hire does not implement
 *   E_WEIGHTS      WeightError                    tensor missing, wrong shape or unusable dtype; or a
 *                                                 bundle's weight file not the one it was calibrated for
 *   E_TOKENIZER    TokenizerError                 tokenizer.json missing or unusable
 *   E_BACKEND      BackendError                   compute backend cannot start or failed
 *   E_BUNDLE       BundleError                    HiRE bundle missing, of another version, or mismatched
 *   E_DATA         DataError                      calibration/evaluation text missing or too short
 *   E_IO           IoError                        a file or directory cannot be read or written
 *   E_ABORTED      AbortError                     the caller's AbortSignal fired (library API)
 *   E_DISPOSED     DisposedError                  a model or generation used after dispose() (library API)
 *   E_HUB          HubError                       a Hugging Face model id not in the cache, or its download failed
 *   E_OVERLOADED   OverloadedError                a server's queue is full, or it is shutting down
 *
 * Codes are never renamed or reused; new failure kinds get new codes.
 */

export type ErrorCode =
  | 'E_USAGE'
  | 'E_SAFETENSORS'
  | 'E_GGUF'
  | 'E_CONFIG'
  | 'E_ARCHITECTURE'
  | 'E_WEIGHTS'
  | 'E_TOKENIZER'
  | 'E_BACKEND'
  | 'E_BUNDLE'
  | 'E_DATA'
  | 'E_IO'
  | 'E_ABORTED'
  | 'E_DISPOSED'
  | 'E_HUB'
  | 'E_OVERLOADED';

export class HireError extends Error {
  /** Stable identifier of the failure kind. */
  readonly code: ErrorCode;
  /** Process exit code a CLI should use: 2 for bad usage, 1 otherwise. */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options?: {cause?: unknown; exitCode?: number}) {
    super(message, options?.cause === undefined ? undefined : {cause: options.cause});
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/**
 * Bad options or arguments. `option` is the option the message names (its library name, e.g.
 * `maxTokens` or `ffn.groupSize`), or null; the CLI shows its flag spelling instead.
 */
export class UsageError extends HireError {
  readonly option: string | null;
  constructor(message: string, options?: {option?: string}) {
    super('E_USAGE', message, {exitCode: 2});
    this.option = options?.option ?? null;
  }
}

/** A safetensors file (or its index) that is malformed: the message names the file. */
export class SafetensorsError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string, options?: {cause?: unknown}) {
    super('E_SAFETENSORS', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** A GGUF file that is malformed or holds what hire cannot use: the message names the file. */
export class GgufError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string, options?: {cause?: unknown}) {
    super('E_GGUF', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** config.json missing, unreadable or inconsistent. */
export class ConfigError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string, options?: {cause?: unknown}) {
    super('E_CONFIG', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** The checkpoint's architecture is not one we implement. */
export class UnsupportedArchitectureError extends HireError {
  constructor(file: string, architecture: string, supported: readonly string[]) {
    super(
      'E_ARCHITECTURE',
      `${file}: unsupported architecture "${architecture}"; supported: ${supported.join(', ')}`,
    );
  }
}

/**
 * A tensor is missing, has the wrong shape, or has a dtype we cannot use; or a bundle's weight file
 * differs (size, fingerprint, sha256) from the one hire.json recorded at calibration.
 */
export class WeightError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super('E_WEIGHTS', `${file}: ${problem}`);
    this.file = file;
  }
}

/** tokenizer.json missing or unusable, or text that cannot be encoded. */
export class TokenizerError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string, options?: {cause?: unknown}) {
    super('E_TOKENIZER', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** A HiRE bundle (hire.json / hire.safetensors) that is missing, of another version, or does not fit its model. */
export class BundleError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string, options?: {cause?: unknown}) {
    super('E_BUNDLE', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** Calibration or evaluation text that is missing, empty or too short. */
export class DataError extends HireError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super('E_DATA', `${file}: ${problem}`);
    this.file = file;
  }
}

/** A compute backend that cannot start or failed while running. */
export class BackendError extends HireError {
  constructor(message: string, options?: {cause?: unknown}) {
    super('E_BACKEND', message, options);
  }
}

/** A file or directory that cannot be read or written. */
export class IoError extends HireError {
  constructor(path: string, problem: string, options?: {cause?: unknown}) {
    super('E_IO', `${path}: ${problem}`, options);
  }
}

/**
 * The operation was stopped by the caller's AbortSignal. `name` is 'AbortError', as for the
 * platform's own aborts (fetch, streams); `cause` is the signal's reason.
 */
export class AbortError extends HireError {
  constructor(what: string, options?: {cause?: unknown}) {
    super('E_ABORTED', `${what} was aborted`, options);
  }
}

/** A model (or generation) used after dispose(): load the model again. */
export class DisposedError extends HireError {
  constructor(what: string) {
    super('E_DISPOSED', `${what} was used after dispose(); load the model again with loadModel()`);
  }
}

/**
 * A Hugging Face model reference (`org/name[@revision]`) that is not in the local cache, or whose
 * download failed (no network, refused, not found, interrupted, corrupt). `repo` is the reference
 * as given; `option` is the library option that would fix it (`download`), or null.
 */
export class HubError extends HireError {
  readonly repo: string;
  /** The problem without the repo and without the library option's hint. */
  readonly problem: string;
  readonly option: string | null;
  constructor(repo: string, problem: string, options?: {cause?: unknown; option?: string}) {
    const option = options?.option ?? null;
    super('E_HUB', `${repo}: ${problem}${option ? `, or load it with \`${option}: true\`` : ''}`, options);
    this.repo = repo;
    this.problem = problem;
    this.option = option;
  }
}

/**
 * A server cannot take the request now: its queue is full (`reason` 'queue_full'), or it is
 * shutting down ('shutting_down'). `retryAfter`: seconds after which a retry may succeed.
 */
export class OverloadedError extends HireError {
  readonly reason: 'queue_full' | 'shutting_down';
  readonly retryAfter: number;
  constructor(reason: 'queue_full' | 'shutting_down', message: string, retryAfter: number) {
    super('E_OVERLOADED', message);
    this.reason = reason;
    this.retryAfter = retryAfter;
  }
}
