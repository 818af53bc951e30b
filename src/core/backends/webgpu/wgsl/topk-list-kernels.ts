/**
 * Backend.topK on the GPU: the k largest entries of x as (id, value) pairs, best first, ties to the
 * lower index, with only those k pairs leaving the device.
 *
 * Every entry is ranked by the pair (key, id): key the order-preserving u32 of its value (the usual
 * float flip; -0 as +0, every NaN as -Infinity, as topKIndices ranks them). "a before b" is key
 * descending, then id ascending: a strict total order, so the result is exact and unique. The
 * sentinel (0, 0xffffffff) pads short lists and ranks after every entry (no value has key 0).
 *
 * 1. Local top-k, one workgroup per chunk of C entries, the first m = min(k, C) of the chunk's
 *    pairs written out in order: one sorted list per chunk. On a GPU (topkLocalShader) 256 threads
 *    sort a chunk of 1024 in workgroup memory by a bitonic network. On llvmpipe, where barriers and
 *    dispatches are what costs, one thread takes a large chunk (topkLocalSerialShader: radix select,
 *    then a radix sort of the m selected only), so a handful of workgroups cover the vector.
 * 2. Merge rounds (TOPK_MERGE_SHADER): lists 2q and 2q+1 (m pairs each) become list q of
 *    min(2m, k) pairs, one thread per output position, which finds its pair by a binary search on
 *    the merge path (no barrier, no workgroup memory); an unpaired last list is copied. Rounds
 *    repeat until one list is left.
 * The last dispatch writes (id, value bits) instead of (key, id): that list is what is read back.
 */

const ORDER = `const SENTINEL = vec2<u32>(0u, 0xffffffffu);
fn key(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { b = 0xff800000u; } // NaN ranks as -Infinity
  if (b == 0x80000000u) { b = 0u; } // -0 as +0
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}
// Whether pair a ranks before pair b: larger key, then lower id.
fn before(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.x > b.x || (a.x == b.x && a.y < b.y);
}
// The pair as written out: (key, id), or (id, value bits) by the last dispatch.
fn emit(e: vec2<u32>) -> vec2<u32> {
  if (p.last != 0u) { return vec2<u32>(e.y, bitcast<u32>(X[min(e.y, p.n - 1u)])); }
  return e;
}`;

/**
 * One workgroup of `threads` threads per chunk of `chunk` entries (powers of two, chunk >= 2 *
 * threads). P {n, m = min(k, chunk), last, -}. Out: [chunks, m] pairs.
 */
export function topkLocalShader(threads: number, chunk: number): string {
  const barrier = threads > 1 ? 'workgroupBarrier();' : '';
  return `struct P { n: u32, m: u32, last: u32, unused: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<vec2<u32>>;
var<workgroup> s: array<vec2<u32>, ${chunk}>;
${ORDER}
@compute @workgroup_size(${threads})
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  let base = c * ${chunk}u;
  if (base >= p.n) { return; } // the grid's spare workgroups (uniform: one value per workgroup)
  for (var r = t; r < ${chunk}u; r += ${threads}u) {
    let i = base + r;
    if (i < p.n) { s[r] = vec2<u32>(key(X[i]), i); } else { s[r] = SENTINEL; }
  }
  ${barrier}
  // Bitonic sort, "before" order first: blocks of \`size\` alternate direction until the last one.
  for (var size = 2u; size <= ${chunk}u; size = size << 1u) {
    for (var stride = size >> 1u; stride > 0u; stride = stride >> 1u) {
      for (var q = t; q < ${chunk / 2}u; q += ${threads}u) {
        let i = ((q & ~(stride - 1u)) << 1u) | (q & (stride - 1u));
        let j = i + stride;
        let a = s[i];
        let b = s[j];
        if (before(b, a) == ((i & size) == 0u)) {
          s[i] = b;
          s[j] = a;
        }
      }
      ${barrier}
    }
  }
  for (var r = t; r < p.m; r += ${threads}u) { Out[c * p.m + r] = emit(s[r]); }
}`;
}

/**
 * The local stage in one thread per chunk (llvmpipe: few large chunks, no barrier, no wasted
 * sorting). The thread finds its chunk's m-th largest key T by radix select (four 8-bit histogram
 * passes, as keepTopK's serial kernel), collects in index order every key above T and the first
 * keys equal to T that are still needed, then sorts them by an LSD radix sort (stable, so equal
 * keys stay in index order) through Tmp. P and Out as topkLocalShader; Tmp: scratch as large as Out.
 */
export function topkLocalSerialShader(chunk: number): string {
  return `struct P { n: u32, m: u32, last: u32, unused: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> Tmp: array<vec2<u32>>;
${ORDER}
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = wid.x + wid.y * nwg.x;
  let base = c * ${chunk}u;
  if (base >= p.n) { return; }
  let end = min(base + ${chunk}u, p.n);
  let want = min(p.m, end - base);
  let o = c * p.m;
  var hist: array<u32, 256>;
  // Radix select: prefix ends as T, rem as how many keys equal to T to keep.
  var prefix = 0u;
  var mask = 0u;
  var rem = want;
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    for (var d = 0u; d < 256u; d++) { hist[d] = 0u; }
    for (var i = base; i < end; i++) {
      let k = key(X[i]);
      if ((k & mask) == prefix) { hist[(k >> shift) & 255u] += 1u; }
    }
    var above = 0u;
    var d = 255u;
    while (d > 0u && above + hist[d] < rem) {
      above += hist[d];
      d -= 1u;
    }
    prefix = prefix | (d << shift);
    mask = mask | (255u << shift);
    rem -= above;
  }
  var count = 0u;
  for (var i = base; i < end; i++) {
    let k = key(X[i]);
    if (k > prefix || (k == prefix && rem > 0u)) {
      if (k == prefix) { rem -= 1u; }
      Out[o + count] = vec2<u32>(k, i);
      count += 1u;
    }
  }
  // LSD radix sort, key descending (digit 255 first), Out -> Tmp -> Out -> Tmp -> Out.
  for (var step = 0u; step < 4u; step++) {
    let shift = step * 8u;
    for (var d = 0u; d < 256u; d++) { hist[d] = 0u; }
    for (var j = 0u; j < want; j++) {
      let e = select(Tmp[o + j], Out[o + j], step % 2u == 0u);
      hist[255u - ((e.x >> shift) & 255u)] += 1u;
    }
    var sum = 0u;
    for (var d = 0u; d < 256u; d++) { let h = hist[d]; hist[d] = sum; sum += h; }
    for (var j = 0u; j < want; j++) {
      let e = select(Tmp[o + j], Out[o + j], step % 2u == 0u);
      let at = o + hist[255u - ((e.x >> shift) & 255u)];
      hist[255u - ((e.x >> shift) & 255u)] += 1u;
      if (step % 2u == 0u) { Tmp[at] = e; } else { Out[at] = e; }
    }
  }
  for (var j = 0u; j < p.m; j++) {
    if (j < want) { Out[o + j] = emit(Out[o + j]); } else { Out[o + j] = SENTINEL; }
  }
}`;
}

/**
 * One thread per output pair. P {n, m (pairs per input list), last, nl (input lists), mOut}.
 * In: [nl, m] pairs; Out: [ceil(nl / 2), mOut] pairs, mOut = min(2m, k).
 */
export const TOPK_MERGE_SHADER = `struct P { n: u32, m: u32, last: u32, nl: u32, mOut: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> In: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> Out: array<vec2<u32>>;
${ORDER}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * 64u;
  let lists = (p.nl + 1u) / 2u;
  if (g >= lists * p.mOut) { return; }
  let q = g / p.mOut;
  let j = g % p.mOut; // output position: the first j pairs are A[0, a) and B[0, j - a)
  let a0 = 2u * q * p.m;
  if (2u * q + 1u >= p.nl) {
    if (j < p.m) { Out[g] = emit(In[a0 + j]); } else { Out[g] = SENTINEL; }
    return;
  }
  let b0 = a0 + p.m;
  // The smallest a (pairs taken from A) such that A[a] does not rank before B[j - a - 1].
  var lo = select(0u, j - p.m, j > p.m);
  var hi = min(j, p.m);
  while (lo < hi) {
    let mid = (lo + hi) >> 1u;
    if (before(In[a0 + mid], In[b0 + j - mid - 1u])) { lo = mid + 1u; } else { hi = mid; }
  }
  let b = j - lo;
  if (b >= p.m || (lo < p.m && before(In[a0 + lo], In[b0 + b]))) { Out[g] = emit(In[a0 + lo]); } else { Out[g] = emit(In[b0 + b]); }
}`;
