/**
 * Choosing the next token from logits: pure functions, randomness passed in as an `Rng`.
 *
 * Order of operations (the usual one, as in transformers and llama.cpp):
 *   greedy when temperature is 0 or topK is 1 (argmax, ties -> lowest id, no draw);
 *   otherwise divide by temperature -> keep the top-k -> softmax (max-subtracted, float64) ->
 *   keep the nucleus (smallest prefix of the descending order whose mass is >= topP) ->
 *   min-p (drop tokens whose probability is below minP times the most likely one's) ->
 *   renormalise -> one uniform draw.
 * (transformers applies its warpers in this order: temperature, top-k, top-p, min-p.) Penalties
 * on repeated tokens are not here: they change the logits before sampling (decode/penalties.ts).
 * The candidate order used for the draw is canonical (value descending, id ascending, or id
 * ascending when nothing needs sorting), so sampleCandidates over every id, in any order, picks
 * the same token as sample() for the same draw.
 */
import {BackendError, UsageError} from '../errors.js';
import type {Rng} from '../numeric/rng.js';
import {exp} from '../numeric/exp.js';
import {argmax, argsortDescending, topKIndices} from '../numeric/select.js';

export type {Rng} from '../numeric/rng.js';

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK: number;
  /** Keep the smallest set with this much probability mass; 1 = off. */
  topP: number;
  /** Drop tokens less likely than minP times the most likely token; 0 (default) = off. */
  minP?: number;
}


export function validateSamplingOptions(opts: SamplingOptions): void {
  const {temperature, topK, topP} = opts;
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new UsageError(`temperature must be a number >= 0 (0 means greedy), got ${temperature}`, {option: 'temperature'});
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new UsageError(`topK must be an integer >= 0 (0 means off), got ${topK}`, {option: 'topK'});
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new UsageError(`topP must be in (0, 1] (1 means off), got ${topP}`, {option: 'topP'});
  }
  const minP = opts.minP ?? 0;
  if (!(minP >= 0 && minP <= 1)) {
    throw new UsageError(`minP must be in [0, 1] (0 means off), got ${minP}`, {option: 'minP'});
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling.

/** NaN sorts below everything (it is never chosen while a number is available). */
function key(v: number): number {
  return v === v ? v : -Infinity;
}

/** Relative slack so that a nucleus boundary hit exactly (0.5 + 0.3 vs 0.8) is not lost to rounding. */
const TOP_P_SLACK = 1e-12;

/** The sampler's weights buffer, reused across calls (grown as needed: one per vocabulary size, not one per token). */
let weightsBuffer = new Float64Array(0);
function scratchWeights(n: number): Float64Array {
  if (weightsBuffer.length < n) weightsBuffer = new Float64Array(n);
  return weightsBuffer;
}

/** Picks a position in `values`; tie order is by position (callers make position order = id order). */
function samplePosition(values: Float32Array, opts: SamplingOptions, rng: Rng): number {
  validateSamplingOptions(opts);
  const n = values.length;
  if (n === 0) throw new RangeError('sampler: no logits to sample from');
  if (opts.temperature === 0 || opts.topK === 1) return checkedArgmax(values);

  // Candidate order: top-k (sorted), full sort (only needed for top-p), or natural order.
  let order: Int32Array | null = null;
  if (opts.topK > 0 && opts.topK < n) order = topKIndices(values, opts.topK);
  else if (opts.topP < 1) order = argsortDescending(values);
  const m = order === null ? n : order.length;
  const at = (j: number) => (order === null ? j : order[j]);

  // NaN fails every comparison, so it never becomes the maximum (as key() ranks it)
  let max = -Infinity;
  for (let j = 0; j < m; j++) {
    const v = values[order === null ? j : order[j]!]!;
    if (v > max) max = v;
  }
  if (max === Infinity) {
    // exp(inf - inf) is NaN: +Infinity outranks everything, so choose among those (first = lowest).
    for (let j = 0; ; j++) if (values[at(j)] === Infinity) return at(j);
  }
  if (max === -Infinity) {
    throw new BackendError('sampler: every logit is -Infinity or NaN; the forward pass produced no usable scores');
  }

  // Unnormalised probabilities exp((v - max) / T) in candidate order (numeric/exp.ts: a tenth of
  // a llama-110m decode step at 16 sequences went to Math.exp here).
  const weights = scratchWeights(m);
  let total = 0;
  const t = opts.temperature;
  if (order === null) {
    for (let j = 0; j < m; j++) total += weights[j] = exp((key(values[j]!) - max) / t);
  } else {
    for (let j = 0; j < m; j++) total += weights[j] = exp((key(values[order[j]!]!) - max) / t);
  }

  // Nucleus: `order` is sorted descending here whenever topP < 1.
  let kept = m;
  if (opts.topP < 1) {
    const target = opts.topP * total * (1 - TOP_P_SLACK);
    let cum = 0;
    for (let j = 0; j < m; j++) {
      cum += weights[j];
      if (cum >= target) {
        kept = j + 1;
        total = cum;
        break;
      }
    }
  }

  // Min-p: the most likely candidate has weight exp(0) = 1, so the threshold is minP itself.
  const minP = opts.minP ?? 0;
  if (minP > 0) {
    for (let j = 0; j < kept; j++) {
      if (weights[j]! < minP) {
        total -= weights[j]!;
        weights[j] = 0;
      }
    }
  }

  const u = rng() * total;
  let cum = 0;
  let last = 0;
  for (let j = 0; j < kept; j++) {
    const w = weights[j];
    if (w === 0) continue;
    cum += w;
    last = j;
    if (u < cum) return at(j);
  }
  return at(last); // u landed past the rounded total
}

function checkedArgmax(values: Float32Array): number {
  const i = argmax(values);
  if (i < 0) throw new BackendError('sampler: every logit is NaN; the forward pass produced no usable scores');
  return i;
}

/** Samples a token id from a full logits vector `[vocabSize]`. */
export function sample(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  return samplePosition(logits, opts, rng);
}

/**
 * Samples from a subset: `logits[j]` is the (exact) logit of token `ids[j]`; returns the chosen id.
 * Tokens outside `ids` get no probability. Ties break by lower id whatever the order of `ids`.
 */
export function sampleCandidates(
  ids: Int32Array | readonly number[],
  logits: Float32Array,
  opts: SamplingOptions,
  rng: Rng,
): number {
  const m = ids.length;
  if (logits.length !== m) {
    throw new RangeError(`sampleCandidates: ${m} ids but ${logits.length} logits`);
  }
  let ascending = true;
  for (let j = 1; j < m && ascending; j++) ascending = ids[j] > ids[j - 1];
  if (ascending) return ids[samplePosition(logits, opts, rng)];

  // Canonical order (by id) so the result does not depend on how the candidates were listed.
  const perm = Array.from({length: m}, (_, j) => j).sort((a, b) => ids[a] - ids[b]);
  const sortedIds = new Int32Array(m);
  const sortedLogits = new Float32Array(m);
  for (let j = 0; j < m; j++) {
    sortedIds[j] = ids[perm[j]];
    sortedLogits[j] = logits[perm[j]];
    if (j > 0 && sortedIds[j] === sortedIds[j - 1]) {
      throw new RangeError(`sampleCandidates: token id ${sortedIds[j]} is listed twice`);
    }
  }
  return sortedIds[samplePosition(sortedLogits, opts, rng)];
}

/**
 * The top-k that sampling needs exactly: 1 for greedy, top-k when set, else null (full
 * distribution). A top-k that covers the whole vocabulary keeps every token, so it is null too:
 * it never asks for more candidates than there are rows.
 */
export function samplingK(s: SamplingOptions, vocabSize: number): number | null {
  if (s.temperature === 0 || s.topK === 1) return 1;
  return s.topK > 0 && s.topK < vocabSize ? s.topK : null;
}
