/**
 * Progress and cancellation for the long-running API calls (calibrate, evaluate, bench). Core
 * code reports `(stage, done?, total?)`; the API hands callers one event object, and the CLI's
 * spinner consumes the same events (src/cli/progress.ts).
 */
import {AbortError} from '../core/errors.js';
import type {CoreProgress} from '../core/tasks/progress.js';

export interface ProgressEvent {
  /** What is running, e.g. "running the dense model over the calibration text". */
  stage: string;
  /** Units done so far in this stage, when the stage counts them. */
  done?: number;
  /** Units in this stage, when known. */
  total?: number;
  /** Downloads: the file this event is about (done and total are then its bytes). */
  file?: string;
  /** What done/total count, e.g. "tokens". */
  unit?: string;
  /** This stage's number (1-based) among `steps`, when the call numbers its stages. */
  step?: number;
  steps?: number;
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

/**
 * One line for a progress event: "stage 3/4: scoring 1200/4096 tokens" (numbered and counted),
 * "stage 1/4: loading model", "scoring (1200/4096)" or "scoring".
 */
export function formatProgress(e: ProgressEvent): string {
  const head = e.step !== undefined && e.steps !== undefined ? `stage ${e.step}/${e.steps}: ` : '';
  if (e.done === undefined) return `${head}${e.stage}`;
  const count = `${e.done}/${e.total ?? '?'}`;
  return e.unit !== undefined ? `${head}${e.stage} ${count} ${e.unit}` : `${head}${e.stage} (${count})`;
}

/**
 * The core-style callback for a task: forwards events to the caller and throws AbortError at the
 * first progress point after the signal fires (core code's `finally` blocks then free resources).
 */
export function coreProgress(what: string, opts: TaskOptions): CoreProgress {
  throwIfAborted(what, opts.signal);
  return (stage, done, total, info) => {
    throwIfAborted(what, opts.signal);
    opts.onProgress?.({stage, ...(done === undefined ? {} : {done, total}), ...info});
  };
}

export function throwIfAborted(what: string, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(what, {cause: signal.reason});
}
