/**
 * Selection over typed arrays: argmax, the indices of the k largest values, the k-th largest value,
 * a full descending order. NaN ranks as -Infinity everywhere; ties go to the lower index. Used by
 * sampling, HiRE's candidate stages, backends' top-k and calibration.
 */


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
 * The k-th largest value of x (1 <= k <= x.length; k is clamped), NaN counting as -Infinity (and
 * -0 returned as +0, which it equals). The radix selection of topKAscending; x is not modified.
 */
export function kthLargest(x: Float32Array, k: number): number {
  const n = x.length;
  return keyValue(kthLargestKey(orderKeys(x, false), n, Math.max(1, Math.min(Math.floor(k), n))));
}

/**
 * The same set as topKIndices(x, k) (k largest, ties to the lower index, NaN as -Infinity), in
 * ascending index order: the k-th largest value t by a radix selection on the values' bits
 * (kthLargestKey), then one pass taking every value above t and the first values equal to t.
 * O(n), no sort, no comparison branches on the data: HiRE-FFN picks its groups this way every
 * layer of every token, and keepTopKInPlace keeps a top-k FFN's activations the same way.
 */
export function topKAscending(x: Float32Array, k: number): Int32Array {
  const kk = Math.max(0, Math.min(Math.floor(k), x.length));
  const out = new Int32Array(kk);
  if (kk === 0) return out;
  const n = x.length;
  const keys = orderKeys(x, false);
  const t = kthLargestKey(keys, n, kk);
  let ties = selectedTies; // values equal to t that fit, lowest indices first
  for (let i = 0, o = 0; o < kk && i < n; i++) {
    const v = keys[i]!;
    if (v > t) out[o++] = i;
    else if (v === t && ties > 0) {
      out[o++] = i;
      ties--;
    }
  }
  return out;
}

/**
 * In place: zeroes every entry of x but its k largest (by |x| when byMagnitude, else by value),
 * ties to the lower index, NaN ranking as -Infinity: the set topKAscending keeps, without
 * allocating (a top-k FFN runs this on every layer's hidden activations).
 */
export function keepTopKInPlace(x: Float32Array, k: number, byMagnitude: boolean): void {
  const n = x.length;
  const kk = Math.floor(k);
  if (kk >= n) return;
  if (!(kk > 0)) {
    x.fill(0);
    return;
  }
  const keys = orderKeys(x, byMagnitude);
  const t = kthLargestKey(keys, n, kk);
  let ties = selectedTies;
  for (let i = 0; i < n; i++) {
    const v = keys[i]!;
    if (v > t) continue;
    if (v === t && ties > 0) ties--;
    else x[i] = 0;
  }
}

/** The key of -Infinity (and of NaN, which ranks as -Infinity): the bits of -Infinity, inverted. */
const NEG_INF_KEY = ~0xff800000 >>> 0;
let keyScratch: Uint32Array = new Uint32Array(0);
let candScratch: Uint32Array = new Uint32Array(0);
/** Counts of one digit of the candidate keys (kthLargestKey). */
const digitCounts = new Int32Array(256);
/** How many keys equal to the last kthLargestKey result belong to the top k (the rest lie above it). */
let selectedTies = 0;

const valueBits = new Uint32Array(1);
const valueOf = new Float32Array(valueBits.buffer);

/** The float32 value whose orderKeys key is `key` (the inverse of that mapping). */
function keyValue(key: number): number {
  valueBits[0] = key >= 0x80000000 ? key & 0x7fffffff : ~key;
  return valueOf[0]!;
}

function scratch(buf: Uint32Array, n: number): Uint32Array {
  return buf.length >= n ? buf : new Uint32Array(Math.max(n, 2 * buf.length));
}

/**
 * keys[i] (a reused buffer, valid until the next call) = an unsigned integer that orders as x[i]
 * does (|x[i]| when byMagnitude) under <, with -0 keyed as +0 and NaN as -Infinity, so equal keys
 * are exactly the ties of the float comparison: a non-negative float's bits with the sign bit set,
 * a negative one's bits inverted.
 */
function orderKeys(x: Float32Array, byMagnitude: boolean): Uint32Array {
  const n = x.length;
  const keys = (keyScratch = scratch(keyScratch, n));
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    const a = b & 0x7fffffff;
    keys[i] = a > 0x7f800000 ? NEG_INF_KEY : byMagnitude || b === a || a === 0 ? (a | 0x80000000) >>> 0 : ~b >>> 0;
  }
  return keys;
}

/**
 * The k-th largest t of keys[0, n) (1 <= k <= n): four passes of 8 bits from the top, each
 * fixing the digit where the k-th falls (the counts of the digits above it are keys above t) and
 * keeping only the candidates with that digit for the next pass. Leaves in selectedTies how many
 * keys equal to t the top k takes.
 */
function kthLargestKey(keys: Uint32Array, n: number, k: number): number {
  const cand = (candScratch = scratch(candScratch, n));
  let src = keys;
  let m = n;
  let need = k;
  let prefix = 0;
  for (let shift = 24; ; shift -= 8) {
    digitCounts.fill(0);
    for (let i = 0; i < m; i++) digitCounts[(src[i]! >>> shift) & 255]!++;
    let d = 255;
    for (; d > 0; d--) {
      const c = digitCounts[d]!;
      if (c >= need) break;
      need -= c;
    }
    prefix = (prefix | (d << shift)) >>> 0;
    if (shift === 0) {
      selectedTies = need;
      return prefix;
    }
    let w = 0;
    for (let i = 0; i < m; i++) {
      const v = src[i]!;
      if (((v >>> shift) & 255) === d) cand[w++] = v;
    }
    src = cand;
    m = w;
  }
}

/** All indices sorted by value descending, ties by lower index (NaN last). O(n log n). */
export function argsortDescending(x: Float32Array): Int32Array {
  const order = new Int32Array(x.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => key(x[b]) - key(x[a]) || a - b);
  return order;
}
