/**
 * Progress and cancellation for the long-running API calls (calibrate, evaluate, bench). Core
 * code reports `(stage, done?, total?)`; the API hands callers one event object, and the CLI's
 * spinner consumes the same events (src/cli/progress.ts).
 */
import {AbortError} from '../core/errors.js';

export interface ProgressEvent {
  /** What is running, e.g. "running the dense model over the calibration text". */
  stage: string;
  /** Units done so far in this stage, when the stage counts them. */
  done?: number;
  /** Units in this stage, when known. */
  total?: number;
  /** Downloads: the file this event is about (done and total are then its bytes). */
  file?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Options every long-running API call accepts. */
export interface TaskOptions {
  /** Called at each stage and as counted stages advance. Never called after the call settles. */
  onProgress?: ProgressCallback;
  /** Non-fatal problems (e.g. a backend fallback); the call goes on. Default: ignored. */
  onWarning?: (message: string) => void;
  /** Stops the call at its next progress point with an AbortError (code E_ABORTED). */
  signal?: AbortSignal;
}

/** One line for a progress event: "stage" or "stage (done/total)". */
export function formatProgress(e: ProgressEvent): string {
  return e.done === undefined ? e.stage : `${e.stage} (${e.done}/${e.total})`;
}

/**
 * The core-style callback for a task: forwards events to the caller and throws AbortError at the
 * first progress point after the signal fires (core code's `finally` blocks then free resources).
 */
export function coreProgress(what: string, opts: TaskOptions): (stage: string, done?: number, total?: number) => void {
  throwIfAborted(what, opts.signal);
  return (stage, done, total) => {
    throwIfAborted(what, opts.signal);
    opts.onProgress?.(done === undefined ? {stage} : {stage, done, total});
  };
}

export function throwIfAborted(what: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(what, {cause: signal.reason});
}
