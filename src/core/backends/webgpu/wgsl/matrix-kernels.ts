/**
 * WGSL kernels that read a weight matrix: dense matvec, gathered-row matvec, the weighted row sum
 * (accumulateRows) and a row copy (embedRow). Each runs on one row chunk of the matrix (matrices
 * above maxStorageBufferBindingSize are split by rows); the host dispatches once per chunk.
 *
 * Matvec threads: TPR invocations share one output row and stride over its units, then lane 0
 * adds up their partial sums from workgroup memory (one barrier). TPR = 1 (llvmpipe, where barriers are slow) is one thread
 * per row with no barrier at all; a real GPU uses TPR = 64 so that a row is read coalesced.
 *
 * Bindings: 0 uniform P; 1 W (2 scales); 3 X or coef; 4 Y (out); 5 bias; 6 index pairs.
 * Index pairs (u32, staged per call): matvecRows (outIndex, chunkRow); accumulateRows (coefIndex, chunkRow).
 */
import {elemRead, unitDot, weightBindings, type GpuWeightKind} from './weights.js';

/** The one uniform layout of every matrix kernel: 16 u32 (64 bytes); the host fills it by name. */
export const MATRIX_PARAMS = [
  'n', // outputs (matvec: chunk rows; rows: pairs; accumulate: terms)
  'stride', // units (f32/f16/bf16) or words (quantised) per padded row
  'units', // units per padded row walked by unitDot
  'groups', // scale groups per row (quantised)
  'wpg', // words per group (quantised)
  'gs', // group size in columns (quantised)
  'outOff', // matvec: first output of this chunk
  'hasBias',
  'cols',
  'row', // embedRow: chunk-local row
  'init', // accumulateRows: 1 on the first chunk (start from bias or 0), 0 to add to Y
  'all', // accumulateRows: 1 when rows is null (term i is chunk row i, coefficient coefOff + i)
  'coefOff',
  'pad0',
  'pad1',
  'pad2',
] as const;
export type MatrixParams = Partial<Record<(typeof MATRIX_PARAMS)[number], number>>;

const STRUCT = `struct P { ${MATRIX_PARAMS.map((f) => `${f}: u32`).join(', ')} }
@group(0) @binding(0) var<uniform> p: P;`;

export const WG = 64;

/** Lane 0 of each row adds up the row's TPR partial sums (one barrier; nothing when TPR = 1). */
function reduceLanes(tpr: number): string {
  if (tpr === 1) return '';
  return `  red[lid.x] = acc;
  workgroupBarrier();
  if (lane == 0u) {
    acc = 0.0;
    for (var j = 0u; j < ${tpr}u; j++) { acc += red[lid.x + j]; }
  }`;
}

/** out[outOff + r] = W[r] . x (+ bias) for the chunk's rows, or out[o] = W[r] . x for staged (o, r) pairs. */
export function matvecShader(kind: GpuWeightKind, mode: 'dense' | 'rows', tpr: number): string {
  const rowOf = mode === 'dense' ? 'slot' : 'I[2u * slot + 1u]';
  const store =
    mode === 'dense'
      ? `let o = p.outOff + slot;
    var b = 0.0;
    if (p.hasBias != 0u) { b = B[o]; }
    Y[o] = acc + b;`
      : 'Y[I[2u * slot]] = acc;';
  const extra =
    mode === 'dense'
      ? '@group(0) @binding(5) var<storage, read_write> B: array<f32>;'
      : '@group(0) @binding(6) var<storage, read> I: array<u32>;';
  return `${STRUCT}
${weightBindings(kind)}
@group(0) @binding(3) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
${extra}
${tpr > 1 ? `var<workgroup> red: array<f32, ${WG}>;` : ''}
${unitDot(kind)}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let slot = (wid.x + wid.y * nwg.x) * ${WG / tpr}u + lid.x / ${tpr}u;
  let lane = lid.x % ${tpr}u;
  var acc = 0.0;
  if (slot < p.n) {
    let r = ${rowOf};
    for (var u = lane; u < p.units; u += ${tpr}u) { acc += unitDot(r, u); }
  }
${reduceLanes(tpr)}
  if (slot < p.n && lane == 0u) {
    ${store}
  }
}`;
}

/** One thread per column c: Y[c] (= bias[c] or 0 on the first chunk) += sum_i coef[ci] W[r_i, c]. */
export function accumulateShader(kind: GpuWeightKind): string {
  return `${STRUCT}
${weightBindings(kind)}
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> B: array<f32>;
@group(0) @binding(6) var<storage, read> I: array<u32>;
${elemRead(kind)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * ${WG}u;
  if (c >= p.cols) { return; }
  var acc = 0.0;
  if (p.init == 0u) { acc = Y[c]; } else if (p.hasBias != 0u) { acc = B[c]; }
  for (var i = 0u; i < p.n; i++) {
    var ci = p.coefOff + i;
    var r = i;
    if (p.all == 0u) { ci = I[2u * i]; r = I[2u * i + 1u]; }
    acc += C[ci] * elem(r, c);
  }
  Y[c] = acc;
}`;
}

/** Y[c] = W[row, c] for every column (embedding lookup). */
export function embedShader(kind: GpuWeightKind): string {
  return `${STRUCT}
${weightBindings(kind)}
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
${elemRead(kind)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = gid.x + gid.y * nwg.x * ${WG}u;
  if (c >= p.cols) { return; }
  Y[c] = elem(p.row, c);
}`;
}
