/**
 * Choosing the next token from logits: pure functions, randomness passed in as an `Rng`.
 *
 * Order of operations (the usual one, as in transformers and llama.cpp):
 *   greedy when temperature is 0 or topK is 1 (argmax, ties -> lowest id, no draw);
 *   otherwise divide by temperature -> keep the top-k -> softmax (max-subtracted, float64) ->
 *   keep the nucleus (smallest prefix of the descending order whose mass is >= topP) ->
 *   renormalise -> one uniform draw.
 * The candidate order used for the draw is canonical (value descending, id ascending, or id
 * ascending when nothing needs sorting), so sampleCandidates over every id, in any order, picks
 * the same token as sample() for the same draw.
 */
import {BackendError, UsageError} from '../errors.js';

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK: number;
  /** Keep the smallest set with this much probability mass; 1 = off. */
  topP: number;
}

/** Uniform in [0, 1). */
export type Rng = () => number;

export function validateSamplingOptions(opts: SamplingOptions): void {
  const {temperature, topK, topP} = opts;
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new UsageError(`--temperature must be a number >= 0 (0 means greedy), got ${temperature}`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new UsageError(`--top-k must be an integer >= 0 (0 means off), got ${topK}`);
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new UsageError(`--top-p must be in (0, 1] (1 means off), got ${topP}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Random numbers: xoshiro128** (Blackman & Vigna) on 32-bit integer ops, its 128-bit state filled
// from the seed by splitmix64. Same seed -> same stream on every platform.

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 from `seed`: returns a generator of 64-bit outputs (BigInt; only used for seeding). */
export function splitmix64(seed: bigint): () => bigint {
  let state = BigInt.asUintN(64, seed);
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

/** The raw xoshiro128** generator: unsigned 32-bit outputs. `state` is four uint32 words. */
export function xoshiro128ss(state: Uint32Array): () => number {
  const s = Uint32Array.from(state);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
}

/** A seeded uniform [0, 1) generator with 53 random bits per number (two xoshiro128** outputs). */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) {
    throw new UsageError(`--seed must be an integer, got ${seed}`);
  }
  const sm = splitmix64(BigInt(seed));
  const a = sm();
  const b = sm();
  const next = xoshiro128ss(
    Uint32Array.of(Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)),
  );
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; // (27 + 26 bits) / 2^53
}

// ---------------------------------------------------------------------------------------------
// Selection helpers (reused by HiRE's candidate stages).

/** NaN sorts below everything (it is never chosen while a number is available). */
function key(v: number): number {
  return v === v ? v : -Infinity;
}

/** Index of the largest value, ties -> lowest index; NaN is ignored. -1 when empty or all NaN. */
export function argmax(x: Float32Array): number {
  let best = -1;
  let bestVal = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v > bestVal || (best < 0 && v === -Infinity)) {
      best = i;
      bestVal = v;
    }
  }
  return best;
}

/**
 * Indices of the k largest values, sorted by value descending, ties by lower index (NaN last).
 * O(n log k): a size-k min-heap whose root is the worst kept entry.
 */
export function topKIndices(x: Float32Array, k: number): Int32Array {
  const n = x.length;
  const kk = Math.max(0, Math.min(Math.floor(k), n));
  const heapIdx = new Int32Array(kk);
  const heapVal = new Float64Array(kk);
  // a is worse than b: lower value, or equal value and higher index.
  const worse = (va: number, ia: number, vb: number, ib: number) => va < vb || (va === vb && ia > ib);
  const siftDown = (pos: number, size: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= size) return;
      const r = l + 1;
      let w = l;
      if (r < size && worse(heapVal[r], heapIdx[r], heapVal[l], heapIdx[l])) w = r;
      if (!worse(heapVal[w], heapIdx[w], heapVal[pos], heapIdx[pos])) return;
      swap(pos, w);
      pos = w;
    }
  };
  const swap = (a: number, b: number) => {
    const ti = heapIdx[a];
    heapIdx[a] = heapIdx[b];
    heapIdx[b] = ti;
    const tv = heapVal[a];
    heapVal[a] = heapVal[b];
    heapVal[b] = tv;
  };
  if (kk === 0) return heapIdx;
  for (let i = 0; i < kk; i++) {
    heapIdx[i] = i;
    heapVal[i] = key(x[i]);
  }
  for (let i = (kk >> 1) - 1; i >= 0; i--) siftDown(i, kk);
  for (let i = kk; i < n; i++) {
    const v = key(x[i]);
    // Later indices lose ties, so only a strictly larger value enters.
    if (v > heapVal[0]) {
      heapVal[0] = v;
      heapIdx[0] = i;
      siftDown(0, kk);
    }
  }
  // Heap sort in place: repeatedly move the worst to the end -> best first.
  for (let size = kk - 1; size > 0; size--) {
    swap(0, size);
    siftDown(0, size);
  }
  return heapIdx;
}

/** All indices sorted by value descending, ties by lower index (NaN last). O(n log n). */
export function argsortDescending(x: Float32Array): Int32Array {
  const order = new Int32Array(x.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => key(x[b]) - key(x[a]) || a - b);
  return order;
}

/** Softmax of x / temperature in float64 (max-subtracted). */
export function softmax(x: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(x.length);
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, key(x[i]));
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.exp((key(x[i]) - max) / temperature);
    sum += out[i];
  }
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** log softmax of x in float64 (max-subtracted, log-sum-exp). */
export function logSoftmax(x: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, key(x[i]));
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(key(x[i]) - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = key(x[i]) - lse;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sampling.

/** Relative slack so that a nucleus boundary hit exactly (0.5 + 0.3 vs 0.8) is not lost to rounding. */
const TOP_P_SLACK = 1e-12;

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

  let max = -Infinity;
  for (let j = 0; j < m; j++) max = Math.max(max, key(values[at(j)]));
  if (max === Infinity) {
    // exp(inf - inf) is NaN: +Infinity outranks everything, so choose among those (first = lowest).
    for (let j = 0; ; j++) if (values[at(j)] === Infinity) return at(j);
  }
  if (max === -Infinity) {
    throw new BackendError('sampler: every logit is -Infinity or NaN; the forward pass produced no usable scores');
  }

  // Unnormalised probabilities exp((v - max) / T) in candidate order.
  const weights = new Float64Array(m);
  let total = 0;
  for (let j = 0; j < m; j++) {
    const w = Math.exp((key(values[at(j)]) - max) / opts.temperature);
    weights[j] = w;
    total += w;
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
