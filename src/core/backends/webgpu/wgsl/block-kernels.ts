/**
 * WGSL for a block of rows (a prompt's tokens): the matrix-matrix product of a dense matrix (f32,
 * f16, bf16) with a block of input vectors, Y[b, r] = W[r] . X[b] (+ bias[r]). Each thread takes one
 * weight row and four tokens, so each unit of W it loads is used four times from registers (the
 * tile); there are no workgroup barriers, which llvmpipe runs slowly. Consecutive threads take
 * consecutive rows for the same four tokens, so they read the same X entries.
 *
 * Bindings: 0 uniform G; 1 W; 3 X [nb, xStride vec4] (the input vectors copied into one block, each
 * with its zero padding); 4 Y [nb, yStride] f32; 5 bias.
 */
import {weightBindings, type GpuWeightKind} from './weights.js';

/** The uniform of the block matvec: 8 u32, filled by name. */
export const GEMM_PARAMS = ['rows', 'stride', 'units', 'outOff', 'hasBias', 'nb', 'xStride', 'yStride'] as const;
export type GemmParams = Record<(typeof GEMM_PARAMS)[number], number>;

export const GEMM_WG = 64;

/** W unit u of row r times X unit u of the token row at xo, for f32 (4 columns a unit) or 16-bit weights (8). */
function unitTerm(kind: 'f32' | 'f16' | 'bf16'): string {
  if (kind === 'f32') return 'fn term(w: vec4<f32>, xo: u32, u: u32) -> f32 { return dot(w, X[xo + u]); }';
  const h2 =
    kind === 'f16'
      ? 'fn h2(w: u32) -> vec2<f32> { return unpack2x16float(w); }'
      : 'fn h2(w: u32) -> vec2<f32> { return vec2<f32>(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u)); }';
  return `${h2}
fn term(w: vec4<u32>, xo: u32, u: u32) -> f32 {
  return dot(vec4<f32>(h2(w.x), h2(w.y)), X[xo + 2u * u]) + dot(vec4<f32>(h2(w.z), h2(w.w)), X[xo + 2u * u + 1u]);
}`;
}

/** Y[b, outOff + r] = W[r] . X[b] (+ B[outOff + r]) for the chunk's rows r and every token b < nb, four tokens a thread. */
export function gemmShader(kind: 'f32' | 'f16' | 'bf16'): string {
  return `struct G { ${GEMM_PARAMS.map((f) => `${f}: u32`).join(', ')} }
@group(0) @binding(0) var<uniform> g: G;
${weightBindings(kind as GpuWeightKind)}
@group(0) @binding(3) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> B: array<f32>;
${unitTerm(kind)}
@compute @workgroup_size(${GEMM_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * ${GEMM_WG}u;
  let r = id % g.rows;
  let b0 = (id / g.rows) * 4u;
  if (b0 >= g.nb) { return; }
  let last = g.nb - 1u;
  let x0 = b0 * g.xStride;
  let x1 = min(b0 + 1u, last) * g.xStride;
  let x2 = min(b0 + 2u, last) * g.xStride;
  let x3 = min(b0 + 3u, last) * g.xStride;
  var a = vec4<f32>(0.0);
  for (var u = 0u; u < g.units; u++) {
    let w = W[r * g.stride + u];
    a += vec4<f32>(term(w, x0, u), term(w, x1, u), term(w, x2, u), term(w, x3, u));
  }
  let o = g.outOff + r;
  if (g.hasBias != 0u) { a += vec4<f32>(B[o]); }
  for (var k = 0u; k < 4u && b0 + k < g.nb; k++) { Y[(b0 + k) * g.yStride + o] = a[k]; }
}`;
}
