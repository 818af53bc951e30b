/**
 * Sliding windows for perplexity over a text longer than the model's context. Window j runs the
 * model over ids[start_j, end_j) from position 0 (a fresh cache), with end_j - start_j <= W and
 * start_j = j * S. It scores only the next tokens the previous window did not: targets
 * end_{j-1} .. end_j - 1 (the first window: 1 .. end_0 - 1). So every token but the first is
 * scored exactly once, and each scored token after the first window sees at least W - S tokens
 * of context (target end_{j-1} sees ids[j S, end_{j-1}), W - S tokens). Hence S < W: with
 * S = W - 1 the context restarts almost every W tokens (the cheapest, least context); the default
 * S = W / 2 runs every token about twice.
 */
import {UsageError} from '../../errors.js';

export interface EvalWindow {
  /** First input position in the text. */
  start: number;
  /** One past the last input position. */
  end: number;
  /** First target (text position of a next token) this window scores; it scores targets firstTarget..end-1. */
  firstTarget: number;
}

/** The windows over a text of n tokens (n >= 2) for window W and stride S (1 <= S < W). */
export function slidingWindows(n: number, window: number, stride: number): EvalWindow[] {
  if (!Number.isInteger(window) || window < 2) throw new UsageError(`window must be an integer >= 2, got ${window}`, {option: 'window'});
  if (!Number.isInteger(stride) || stride < 1 || stride >= window) {
    throw new UsageError(`stride must be an integer from 1 to window - 1 (${window - 1}), got ${stride}`, {option: 'stride'});
  }
  const out: EvalWindow[] = [{start: 0, end: Math.min(window, n), firstTarget: 1}];
  while (out[out.length - 1]!.end < n) {
    const prev = out[out.length - 1]!;
    const start = prev.start + stride;
    out.push({start, end: Math.min(start + window, n), firstTarget: prev.end});
  }
  return out;
}

/** Rows the model runs over all windows (each input position counted once per window holding it). */
export function windowRows(windows: readonly EvalWindow[]): number {
  return windows.reduce((a, w) => a + w.end - w.start, 0);
}
