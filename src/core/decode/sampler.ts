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
    throw new UsageError(`temperature must be a number >= 0 (0 means greedy), got ${temperature}`, {option: 'temperature'});
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new UsageError(`topK must be an integer >= 0 (0 means off), got ${topK}`, {option: 'topK'});
  }
  if (!(topP > 0 && topP <= 1)) {
    throw new UsageError(`topP must be in (0, 1] (1 means off), got ${topP}`, {option: 'topP'});
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
    throw new UsageError(`seed must be an integer, got ${seed}`, {option: 'seed'});
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
 * Indices of the k largest values, sorted by value descending, ties by lower index (NaN counts as
 * -Infinity, so it ranks with -Infinity, by index, below every number).
 *
 * Large inputs with k a small fraction of n (the decoding case: tens of thousands of logits, k in
 * the hundreds) take one cheap pass: a threshold t from a strided sample, every index with
 * x[i] >= t collected, and only those sorted. Whenever at least k values are >= t, the k-th largest
 * value is >= t, so the collected indices hold the whole top k, ties at the k-th value included,
 * and the result is exact. A sample that guesses badly (too few or far too many values above t, or
 * t at -Infinity, where NaN would be missed) falls back to a size-k heap, O(n log k).
 */
export function topKIndices(x: Float32Array, k: number): Int32Array {
  const n = x.length;
  const kk = Math.max(0, Math.min(Math.floor(k), n));
  if (!(kk > 0)) return new Int32Array(0);
  if (n >= SELECT_MIN_N && kk * 8 <= n) {
    const fast = topKByThreshold(x, kk);
    if (fast !== null) return fast;
  }
  return topKByHeap(x, kk);
}

/** Below this many values the heap is as fast as sampling. */
const SELECT_MIN_N = 2048;
/** Most values sampled for the threshold (a quarter of n below 8192). */
const SAMPLE = 2048;

/**
 * The top kk of x via a sampled threshold (see topKIndices), or null when the sample missed:
 * fewer than kk values >= t, more than the candidate budget, or t not above -Infinity.
 */
function topKByThreshold(x: Float32Array, kk: number): Int32Array | null {
  const n = x.length;
  const size = Math.min(SAMPLE, n >> 2);
  // Expected sample values above the k-th largest, plus a margin so that t usually lies below it.
  const expected = (kk * size) / n;
  const ids = scratchInt32(0, Math.max(8 * kk, 4096));
  for (let attempt = 0; attempt < 2; attempt++) {
    const margin = attempt === 0 ? 2.5 * Math.sqrt(expected) + 4 : 12 * Math.sqrt(expected) + 32;
    const t = sampledRank(x, size, Math.min(size - 1, Math.ceil(expected + margin)));
    if (!(t > -Infinity)) return null;
    const m = collectAtLeast(x, t, ids);
    if (m < 0) return null; // over budget
    if (m >= kk) return sortCandidates(x, ids, m).slice(0, kk);
  }
  return null;
}

/**
 * Indices i (ascending) with x[i] >= t into ids; their count, or -1 past ids.length. NaN >= t is
 * false, and NaN ranks below any t > -Infinity, so leaving NaN out is right. Eight comparisons
 * are OR-ed before one branch: candidates are rare, and this mispredicts far less than one
 * branch per value.
 */
function collectAtLeast(x: Float32Array, t: number, ids: Int32Array): number {
  const n = x.length;
  const cap = ids.length;
  let m = 0;
  let i = 0;
  for (const n8 = n - (n % 8); i < n8; i += 8) {
    if (
      ((x[i]! >= t) as unknown as number) |
      ((x[i + 1]! >= t) as unknown as number) |
      ((x[i + 2]! >= t) as unknown as number) |
      ((x[i + 3]! >= t) as unknown as number) |
      ((x[i + 4]! >= t) as unknown as number) |
      ((x[i + 5]! >= t) as unknown as number) |
      ((x[i + 6]! >= t) as unknown as number) |
      ((x[i + 7]! >= t) as unknown as number)
    ) {
      for (let j = i; j < i + 8; j++) {
        if (x[j]! >= t) {
          if (m === cap) return -1;
          ids[m++] = j;
        }
      }
    }
  }
  for (; i < n; i++) {
    if (x[i]! >= t) {
      if (m === cap) return -1;
      ids[m++] = i;
    }
  }
  return m;
}

/**
 * ids[0, m) (ascending, non-NaN values) reordered by value descending, ties by lower index: a
 * stable least-significant-digit radix sort, one byte per pass, on a key that orders the
 * float32 values descending (-0 as +0). Stability keeps equal values in index order. Bytes that
 * are the same for every key (usually the top one: candidates share sign and exponent) are
 * skipped.
 */
function sortCandidates(x: Float32Array, ids: Int32Array, m: number): Int32Array {
  const bits = new Int32Array(x.buffer, x.byteOffset, x.length);
  let keyA = scratchUint32(0, m);
  let keyB = scratchUint32(1, m);
  let idA = ids.subarray(0, m);
  let idB = scratchInt32(1, m);
  const counts = scratchInt32(2, 1024).fill(0); // 4 byte positions x 256
  for (let j = 0; j < m; j++) {
    const b = bits[idA[j]!]!;
    // Non-negative floats order like their bits, above every negative one; negative floats
    // order like the complement of theirs. Descending: the complement of that order.
    const k = b >= 0 ? 0x7fffffff - b : b === -0x80000000 ? 0x7fffffff : b >>> 0;
    keyA[j] = k;
    counts[k & 255]!++;
    counts[256 + ((k >>> 8) & 255)]!++;
    counts[512 + ((k >>> 16) & 255)]!++;
    counts[768 + (k >>> 24)]!++;
  }
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 256;
    const shift = pass * 8;
    if (counts[base + ((keyA[0]! >>> shift) & 255)] === m) continue; // one value for every key
    let sum = 0;
    for (let d = base; d < base + 256; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let j = 0; j < m; j++) {
      const k = keyA[j]!;
      const at = counts[base + ((k >>> shift) & 255)]!++;
      keyB[at] = k;
      idB[at] = idA[j]!;
    }
    const keys = keyA;
    keyA = keyB;
    keyB = keys;
    const order = idA;
    idA = idB;
    idB = order;
  }
  return idA;
}

// Reused work buffers of topKByThreshold (it runs once per decoded token; fresh arrays each
// time only feed the garbage collector). Contents are garbage between calls.
const int32Scratch: Int32Array[] = [];
const uint32Scratch: Uint32Array[] = [];

/** Work buffer `slot` with at least `n` elements (a view of exactly n). */
function scratchInt32(slot: number, n: number): Int32Array {
  let a = int32Scratch[slot];
  if (!a || a.length < n) int32Scratch[slot] = a = new Int32Array(Math.max(n, 2 * (a?.length ?? 0)));
  return a.subarray(0, n);
}

function scratchUint32(slot: number, n: number): Uint32Array {
  let a = uint32Scratch[slot];
  if (!a || a.length < n) uint32Scratch[slot] = a = new Uint32Array(Math.max(n, 2 * (a?.length ?? 0)));
  return a.subarray(0, n);
}

/**
 * The rank-th largest (0 = largest) of `count` values of x taken at a fixed stride, NaN read as
 * -Infinity: the largest rank + 1 kept in a small ascending array, so most samples cost one
 * comparison.
 */
function sampledRank(x: Float32Array, count: number, rank: number): number {
  const keep = rank + 1;
  const top = new Float64Array(keep).fill(-Infinity); // top[0] is the smallest kept
  const step = Math.floor(x.length / count);
  for (let j = 0, i = 0; j < count; j++, i += step) {
    const v = key(x[i]!);
    if (v <= top[0]!) continue;
    let p = 1;
    while (p < keep && top[p]! < v) {
      top[p - 1] = top[p]!;
      p++;
    }
    top[p - 1] = v;
  }
  return top[0]!;
}

/** topKIndices by a size-kk min-heap whose root is the worst kept entry; O(n log kk). */
function topKByHeap(x: Float32Array, kk: number): Int32Array {
  const n = x.length;
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

/**
 * The k-th largest value of x (1 <= k <= x.length; k is clamped), NaN counting as -Infinity.
 * Quickselect (Hoare partition, median-of-three pivot) on a copy: x is not modified.
 */
export function kthLargest(x: Float32Array, k: number): number {
  const a = Float32Array.from(x, (v) => (v === v ? v : -Infinity));
  const target = a.length - Math.max(1, Math.min(Math.floor(k), a.length)); // its index in ascending order
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const [p, q, r] = [a[lo]!, a[mid]!, a[hi]!];
    const pivot = p < q ? (q < r ? q : p < r ? r : p) : p < r ? p : q < r ? r : q;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
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

/**
 * The top-k that sampling needs exactly: 1 for greedy, top-k when set, else null (full
 * distribution). A top-k that covers the whole vocabulary keeps every token, so it is null too:
 * it never asks for more candidates than there are rows.
 */
export function samplingK(s: SamplingOptions, vocabSize: number): number | null {
  if (s.temperature === 0 || s.topK === 1) return 1;
  return s.topK > 0 && s.topK < vocabSize ? s.topK : null;
}
