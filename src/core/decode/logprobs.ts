/**
 * Log-probabilities of tokens from an output head's result: the model's own distribution, at
 * temperature 1, before penalties, top-k, top-p or min-p (those change what is sampled, not what
 * the model said).
 *
 * What the numbers are depends on the head:
 *   dense head   logits of every vocabulary row: log p(i) = z_i - logsumexp_V(z), the exact dense
 *                log-probability (`exact: true`, `normalisedOver` = vocabSize).
 *   HiRE head    exact logits of the k' candidates C only: log q(i) = z_i - logsumexp_C(z). This is
 *                exactly the distribution HiRE samples from (before temperature and the rest),
 *                and for the dense distribution it is an upper bound:
 *                  log q(i) = log p(i) - log P(C),   P(C) = dense mass of the candidates <= 1,
 *                so every candidate is shifted by the same -log P(C) >= 0 (differences between
 *                two candidates are exact; the shift is the log of the dropped tail's share). A
 *                token outside C has no HiRE probability (`logprob` null). The predictor's own
 *                scores of the tail are not used (they are not read back while decoding).
 */
import {topKIndices} from '../numeric/select.js';
import type {HeadResult} from './output-head.js';

export interface TokenLogprob {
  id: number;
  logprob: number;
}

export interface LogprobInfo {
  /** Log-probability of the token; null when a sparse head did not compute its row. */
  logprob: number | null;
  /** The most likely tokens, most likely first (ties: lower id first); the token itself may be among them. */
  top: TokenLogprob[];
  /** Rows the probabilities are normalised over: the vocabulary (dense) or the k' candidates (HiRE). */
  normalisedOver: number;
  /** True when normalised over the whole vocabulary (the dense log-probability). */
  exact: boolean;
}

/** NaN counts as -Infinity. */
function key(v: number): number {
  return v === v ? v : -Infinity;
}

/** log sum exp of the values (float64, max-subtracted). */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, key(values[i]!));
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(key(values[i]!) - max);
  return max + Math.log(sum);
}

/** Log-probability of `id` and the top `topN` alternatives from one head result. */
export function tokenLogprobs(r: HeadResult, id: number, topN: number): LogprobInfo {
  const lse = logSumExp(r.logits);
  const at = r.ids === null ? (id >= 0 && id < r.logits.length ? id : -1) : indexOf(r.ids, id);
  const top: TokenLogprob[] = [];
  if (topN > 0) {
    // one more than asked, so that a tie at the boundary can be broken by id
    const picks = topKIndices(r.logits, Math.min(r.logits.length, topN + 1));
    for (const j of picks) top.push({id: r.ids === null ? j : r.ids[j]!, logprob: key(r.logits[j]!) - lse});
    top.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
    top.length = Math.min(top.length, topN);
  }
  return {
    logprob: at < 0 ? null : key(r.logits[at]!) - lse,
    top,
    normalisedOver: r.logits.length,
    exact: r.ids === null,
  };
}

function indexOf(ids: Int32Array, id: number): number {
  for (let j = 0; j < ids.length; j++) if (ids[j] === id) return j;
  return -1;
}
