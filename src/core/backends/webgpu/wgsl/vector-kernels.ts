/**
 * WGSL kernels over vectors: elementwise ops, activations, norms, RoPE, the attention step over a
 * KV cache held on the GPU, and keepTopK. Elementwise kernels run one thread per element on a 2-D
 * grid of 64-wide workgroups (index = gid.x + gid.y * nwg.x * 64). Norms use NW threads with a
 * workgroup sum (NW = 1 on llvmpipe: no barriers). Every vector binding is read_write storage so
 * that an output may alias an input (two writable bindings of one buffer are allowed).
 *
 * Each kernel's uniform struct is written by the host field by field, in declaration order, as
 * 32-bit words (u32 or f32).
 */
import type {Activation} from '../../../model/config.js';

const MAIN = `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;`;

const vec = (binding: number, name: string, type = 'f32') =>
  `@group(0) @binding(${binding}) var<storage, read_write> ${name}: array<${type}>;`;

/** out = a op b. P {n}. */
export function binaryShader(op: '+' | '*'): string {
  return `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
${vec(1, 'A')}
${vec(2, 'B')}
${vec(3, 'O')}
${MAIN}
  if (i < p.n) { O[i] = A[i] ${op} B[i]; }
}`;
}

/** erf(x) in f32: 1 - erfc from the Chebyshev fit of Numerical Recipes (fractional error < 1.2e-7). */
const ERF = `fn erf32(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let r = 1.0 - t * exp(poly);
  return select(r, -r, x < 0.0);
}`;

function activationExpr(kind: Activation): string {
  switch (kind) {
    case 'silu':
      return 'x / (1.0 + exp(-x))';
    case 'relu':
      return 'max(x, 0.0)';
    case 'gelu':
      return '0.5 * x * (1.0 + erf32(x * 0.70710678118654752))';
    case 'gelu_tanh': // tanh clamped: some GL drivers return NaN for large arguments
      return '0.5 * x * (1.0 + tanh(clamp(0.79788456080286536 * (x + 0.044715 * x * x * x), -15.0, 15.0)))';
  }
}

/** out = act(x). P {n}. */
export function activationShader(kind: Activation): string {
  return `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
${vec(1, 'X')}
${vec(2, 'O')}
${kind === 'gelu' ? ERF : ''}
${MAIN}
  if (i < p.n) { let x = X[i]; O[i] = ${activationExpr(kind)}; }
}`;
}

/**
 * Sum over the NW threads of one workgroup (every thread gets the total): each thread posts its
 * partial, then every thread adds up all NW partials itself. Two barriers instead of a tree's
 * log2(NW) + 1 (barriers are the expensive part on llvmpipe, and NW reads of workgroup memory are not).
 */
function workgroupSum(nw: number): string {
  if (nw === 1) return 'fn wsum(v: f32, l: u32) -> f32 { return v; }';
  return `var<workgroup> red: array<f32, ${nw}>;
fn wsum(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  var total = 0.0;
  for (var j = 0u; j < ${nw}u; j++) { total += red[j]; }
  workgroupBarrier();
  return total;
}`;
}

/**
 * One workgroup of NW threads: rmsnorm out = x / sqrt(mean(x^2) + eps) * w, or layernorm
 * out = (x - mean) / sqrt(var + eps) * w + b (two-pass variance). P {n, eps}. out may alias x:
 * each thread reads and writes only its own strided elements.
 */
export function normShader(kind: 'rms' | 'layer', nw: number): string {
  const body =
    kind === 'rms'
      ? `var ss = 0.0;
  for (var i = l; i < p.n; i += ${nw}u) { ss += X[i] * X[i]; }
  let scale = inverseSqrt(wsum(ss, l) / f32(p.n) + p.eps);
  for (var i = l; i < p.n; i += ${nw}u) { O[i] = X[i] * scale * Wt[i]; }`
      : `var s = 0.0;
  for (var i = l; i < p.n; i += ${nw}u) { s += X[i]; }
  let mean = wsum(s, l) / f32(p.n);
  var v = 0.0;
  for (var i = l; i < p.n; i += ${nw}u) { let d = X[i] - mean; v += d * d; }
  let scale = inverseSqrt(wsum(v, l) / f32(p.n) + p.eps);
  for (var i = l; i < p.n; i += ${nw}u) { O[i] = (X[i] - mean) * scale * Wt[i] + Bs[i]; }`;
  return `struct P { n: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
${vec(1, 'X')}
${vec(2, 'Wt')}
${vec(3, 'O')}
${kind === 'layer' ? vec(4, 'Bs') : ''}
${workgroupSum(nw)}
@compute @workgroup_size(${nw})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let l = lid.x;
  ${body}
}`;
}

/**
 * In place, rotate_half layout: for head h and i < half, (a, b) = (x[h*hd + i], x[h*hd + i + half])
 * becomes (a cos - b sin, b cos + a sin). CS: [cos(pos f_i) for i < half, then sin], computed on the
 * host in float64. P {n = nHeads * half, half, headDim}.
 */
export const ROPE_SHADER = `struct P { n: u32, half: u32, headDim: u32 }
@group(0) @binding(0) var<uniform> p: P;
${vec(1, 'X')}
@group(0) @binding(2) var<storage, read> CS: array<f32>;
${MAIN}
  if (i >= p.n) { return; }
  let h = i / p.half;
  let j = i % p.half;
  let ia = h * p.headDim + j;
  let a = X[ia];
  let b = X[ia + p.half];
  let c = CS[j];
  let s = CS[p.half + j];
  X[ia] = a * c - b * s;
  X[ia + p.half] = b * c + a * s;
}`;

/**
 * Attention step, three kernels over one layer's cache K, V: (maxSeqLen, kvDim) and a score
 * scratch Sc: (nHeads, maxSeqLen): append k, v at pos and score; softmax; weighted sum of values.
 * Separate dispatches, so each sees the previous one's writes. Query head h reads kv head
 * h / group (group = nHeads / nKvHeads). P {n, pos, nHeads, headDim, kvDim, group, maxSeqLen, scale}.
 */
const ATT_P = `struct P { n: u32, pos: u32, nHeads: u32, headDim: u32, kvDim: u32, group: u32, maxSeqLen: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: P;`;

/**
 * Threads i < kvDim store K[pos] = k, V[pos] = v; threads (h, t), i < n = nHeads * (pos + 1), set
 * Sc[h, t] = q_h . key_t * scale, reading key pos from k itself (K[pos] is written in this same dispatch).
 */
export const ATT_SCORES_SHADER = `${ATT_P}
${vec(1, 'Q')}
${vec(2, 'Kn')}
${vec(3, 'Vn')}
${vec(4, 'K')}
${vec(5, 'V')}
${vec(6, 'Sc')}
${MAIN}
  if (i < p.kvDim) {
    K[p.pos * p.kvDim + i] = Kn[i];
    V[p.pos * p.kvDim + i] = Vn[i];
  }
  if (i >= p.n) { return; }
  let h = i / (p.pos + 1u);
  let t = i % (p.pos + 1u);
  let qb = h * p.headDim;
  let kvOff = (h / p.group) * p.headDim;
  var d = 0.0;
  if (t == p.pos) {
    for (var j = 0u; j < p.headDim; j++) { d += Q[qb + j] * Kn[kvOff + j]; }
  } else {
    let kb = t * p.kvDim + kvOff;
    for (var j = 0u; j < p.headDim; j++) { d += Q[qb + j] * K[kb + j]; }
  }
  Sc[h * p.maxSeqLen + t] = d * p.scale;
}`;

/** Thread per head, n = nHeads: Sc[h, 0..pos] becomes softmax probabilities (max-shifted). */
export const ATT_SOFTMAX_SHADER = `${ATT_P}
${vec(1, 'Sc')}
${MAIN}
  if (i >= p.n) { return; }
  let b = i * p.maxSeqLen;
  var m = Sc[b];
  for (var t = 1u; t <= p.pos; t++) { m = max(m, Sc[b + t]); }
  var sum = 0.0;
  for (var t = 0u; t <= p.pos; t++) { let e = exp(Sc[b + t] - m); Sc[b + t] = e; sum += e; }
  let inv = 1.0 / sum;
  for (var t = 0u; t <= p.pos; t++) { Sc[b + t] = Sc[b + t] * inv; }
}`;

/** Thread (h, j), n = nHeads * headDim: out[h, j] = sum_t P[h, t] V[t, kv(h) + j]. */
export const ATT_OUT_SHADER = `${ATT_P}
${vec(1, 'Sc')}
${vec(2, 'V')}
${vec(3, 'O')}
${MAIN}
  if (i >= p.n) { return; }
  let h = i / p.headDim;
  let j = i % p.headDim;
  let vb = (h / p.group) * p.headDim + j;
  var acc = 0.0;
  for (var t = 0u; t <= p.pos; t++) { acc += Sc[h * p.maxSeqLen + t] * V[t * p.kvDim + vb]; }
  O[i] = acc;
}`;
