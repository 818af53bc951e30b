/**
 * keepTopK on the GPU by radix select, with no workgroup barrier (slow on llvmpipe):
 * every value gets an order-preserving u32 key (by value: the usual float flip; by magnitude: the
 * bits of |x|; -0 counts as +0). Four rounds find the k-th largest key T one byte at a time, from
 * the top: a histogram kernel (one thread per element, global atomics) counts the keys whose
 * already-fixed high bytes equal the prefix, then one thread walks the 256 bins from the top to
 * the bin holding the k-th key. Then one thread keeps the first `remaining` keys equal to T in
 * index order (ties to the lower index) and zeroes the later ones, and an elementwise kernel
 * zeroes every key below T.
 *
 * On llvmpipe every dispatch costs tens of microseconds, more than the work: there one thread
 * runs the same algorithm in a single dispatch (TOPK_SERIAL_SHADER, O(5 n)).
 *
 * State buffer (u32): [0] prefix, [1] mask of fixed bits, [2] remaining (how many of the keys
 * that match the prefix are still to keep), [3] unused, [4..260) histogram.
 * P {n, k, shift, byMagnitude}.
 */

const HEAD = `struct P { n: u32, k: u32, shift: u32, byMagnitude: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;`;

const KEY = `fn key(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if (b == 0x80000000u) { b = 0u; }
  if (p.byMagnitude != 0u) { return b & 0x7fffffffu; }
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`;

const MAIN = `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;`;

/** One thread: prefix = mask = 0, remaining = k, histogram cleared. */
export const TOPK_INIT_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<u32>;
${MAIN}
  if (i != 0u) { return; }
  St[0] = 0u; St[1] = 0u; St[2] = p.k; St[3] = 0u;
  for (var b = 0u; b < 256u; b++) { St[4u + b] = 0u; }
  // X is only declared so that all kernels share one layout; touch it to keep the binding.
  if (p.n == 0u) { X[0] = X[0]; }
}`;

/** Thread per element: count keys matching the prefix into the bin of byte `shift`. */
export const TOPK_HIST_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<atomic<u32>>;
${KEY}
${MAIN}
  if (i >= p.n) { return; }
  let k = key(X[i]);
  let prefix = atomicLoad(&St[0]);
  let mask = atomicLoad(&St[1]);
  if ((k & mask) == prefix) { atomicAdd(&St[4u + ((k >> p.shift) & 255u)], 1u); }
}`;

/** One thread: from bin 255 down, find the bin that holds the remaining-th key; fix that byte; clear. */
export const TOPK_SCAN_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<u32>;
${MAIN}
  if (i != 0u) { return; }
  let rem = St[2];
  var above = 0u;
  var b = 255i;
  loop {
    let h = St[4u + u32(b)];
    if (above + h >= rem || b == 0i) { break; }
    above += h;
    b -= 1i;
  }
  St[0] = St[0] | (u32(b) << p.shift);
  St[1] = St[1] | (255u << p.shift);
  St[2] = rem - above;
  for (var j = 0u; j < 256u; j++) { St[4u + j] = 0u; }
  if (p.n == 0u) { X[0] = X[0]; }
}`;

/** One thread, in index order: of the keys equal to T, keep the first `remaining`, zero the rest. */
export const TOPK_TIES_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<u32>;
${KEY}
${MAIN}
  if (i != 0u) { return; }
  let t = St[0];
  let rem = St[2];
  var seen = 0u;
  for (var j = 0u; j < p.n; j++) {
    if (key(X[j]) == t) {
      if (seen >= rem) { X[j] = 0.0; }
      seen++;
    }
  }
}`;

/** Thread per element: zero every key below T (runs after the ties kernel, which saw the originals). */
export const TOPK_APPLY_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<u32>;
${KEY}
${MAIN}
  if (i >= p.n) { return; }
  if (key(X[i]) < St[0]) { X[i] = 0.0; }
}`;

/** The whole select in one thread, one dispatch: four histogram rounds, ties, zeroing (llvmpipe). */
export const TOPK_SERIAL_SHADER = `${HEAD}
@group(0) @binding(2) var<storage, read_write> St: array<u32>;
${KEY}
${MAIN}
  if (i != 0u) { return; }
  var hist: array<u32, 256>;
  var prefix = 0u;
  var mask = 0u;
  var rem = p.k;
  for (var shift = 24i; shift >= 0i; shift -= 8i) {
    for (var b = 0u; b < 256u; b++) { hist[b] = 0u; }
    for (var j = 0u; j < p.n; j++) {
      let k = key(X[j]);
      if ((k & mask) == prefix) { hist[(k >> u32(shift)) & 255u] += 1u; }
    }
    var above = 0u;
    var b = 255i;
    loop {
      let h = hist[u32(b)];
      if (above + h >= rem || b == 0i) { break; }
      above += h;
      b -= 1i;
    }
    prefix = prefix | (u32(b) << u32(shift));
    mask = mask | (255u << u32(shift));
    rem -= above;
  }
  var seen = 0u;
  for (var j = 0u; j < p.n; j++) {
    let k = key(X[j]);
    if (k < prefix) { X[j] = 0.0; }
    else if (k == prefix) {
      if (seen >= rem) { X[j] = 0.0; }
      seen++;
    }
  }
  St[0] = prefix;
}`;
