/**
 * Log-probabilities of tokens from an output head's result: the model's own distribution, at
 * temperature 1, before penalties, top-k, top-p or min-p (those change what is sampled, not what
 * the model said).
 *
 * What the numbers are depends on the head:
 *   dense head   logits of every vocabulary row: log p(i) = z_i - logsumexp_V(z), the exact dense
 *                log-probability (`exact: true`, `tail: 'none'`, `normalisedOver` = vocabSize).
 *   HiRE head    exact logits of the k' candidates C only (`tail: 'dropped'`):
 *                  log q(i) = z_i - logsumexp_C(z).
 *                This is exactly the distribution HiRE samples from (before temperature and the
 *                rest), and for the dense distribution it is an upper bound:
 *                  log q(i) = log p(i) - log P(C),   P(C) = dense mass of the candidates <= 1,
 *                so every candidate is shifted by the same -log P(C) >= 0 (differences between
 *                two candidates are exact; the shift is the log of the dropped tail's share). A
 *                token outside C has no HiRE probability (`logprob` null).
 *   HiRE head with the predictor's tail (HeadResult.approx; `tail: 'estimated'`): the tail's
 *                mass is estimated from the predictor's approximate logits z~ of the rows outside C:
 *                  log p~(i) = z_i - logsumexp(z over C, z~ over the rest)
 *                for a candidate (the same shift for every candidate, now an estimate of the dense
 *                value rather than a bound), and z~_i minus the same for a token outside C (its
 *                logit itself approximate).
 */
import {exp} from '../numeric/exp.js';
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
  /** Rows whose exact logits the probabilities use: the vocabulary (dense) or the k' candidates (HiRE). */
  normalisedOver: number;
  /** True when normalised over the whole vocabulary with exact logits (the dense log-probability). */
  exact: boolean;
  /** The rows outside the candidates: none (dense), left out of the normalisation, or estimated by the predictor. */
  tail: 'none' | 'dropped' | 'estimated';
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
  for (let i = 0; i < values.length; i++) sum += exp(key(values[i]!) - max);
  return max + Math.log(sum);
}

/** Log-probability of `id` and the top `topN` alternatives from one head result. */
export function tokenLogprobs(r: HeadResult, id: number, topN: number): LogprobInfo {
  const estimated = r.ids !== null && r.approx !== undefined;
  const lse = estimated ? logSumExpWithTail(r.ids!, r.logits, r.approx!) : logSumExp(r.logits);
  const at = r.ids === null ? (id >= 0 && id < r.logits.length ? id : -1) : indexOf(r.ids, id);
  const top: TokenLogprob[] = [];
  if (topN > 0) {
    // one more than asked, so that a tie at the boundary can be broken by id
    const picks = topKIndices(r.logits, Math.min(r.logits.length, topN + 1));
    for (const j of picks) top.push({id: r.ids === null ? j : r.ids[j]!, logprob: key(r.logits[j]!) - lse});
    top.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
    top.length = Math.min(top.length, topN);
  }
  let logprob = at < 0 ? null : key(r.logits[at]!) - lse;
  if (logprob === null && estimated && id >= 0 && id < r.approx!.length) logprob = key(r.approx![id]!) - lse;
  return {logprob, top, normalisedOver: r.logits.length, exact: r.ids === null, tail: r.ids === null ? 'none' : estimated ? 'estimated' : 'dropped'};
}

/** log of (sum of exp of the candidates' exact logits + sum of exp of every other row's approximate logit). */
function logSumExpWithTail(ids: Int32Array, logits: Float32Array, approx: Float32Array): number {
  const inC = new Uint8Array(approx.length);
  for (const id of ids) inC[id] = 1;
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) max = Math.max(max, key(logits[j]!));
  for (let i = 0; i < approx.length; i++) if (!inC[i]) max = Math.max(max, key(approx[i]!));
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let j = 0; j < logits.length; j++) sum += exp(key(logits[j]!) - max);
  for (let i = 0; i < approx.length; i++) if (!inC[i]) sum += exp(key(approx[i]!) - max);
  return max + Math.log(sum);
}

function indexOf(ids: Int32Array, id: number): number {
  for (let j = 0; j < ids.length; j++) if (ids[j] === id) return j;
  return -1;
}
