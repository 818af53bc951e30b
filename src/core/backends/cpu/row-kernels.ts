/**
 * JS wrappers of the row kernels: RMSNorm and LayerNorm over rows, elementwise activations, sums
 * and products, and RoPE from a table of f32 angles per position. One call covers a block of rows
 * (split over threads when it is large), so a prompt block costs one call per operation instead of
 * one per token; a single vector is the same call over one row.
 */
import type {Activation} from '../../model/config.js';
import type {RopeTable} from '../backend.js';
import {BackendError} from '../../errors.js';
import type {CpuKernels} from './kernels.js';

/** Rows of a block: row r at ptr + r * stride. */
export interface Rows {
  ptr: number;
  stride: number;
}

const ACT_KIND: Partial<Record<Activation, number>> = {silu: 0, relu: 1, gelu_tanh: 2};

/** Whether act_f32 computes this activation (exact gelu, with erf, stays on the host). */
export function hasActKernel(kind: Activation): boolean {
  return ACT_KIND[kind] !== undefined;
}

/** act_f32's code for an activation (hasActKernel first). */
export function actCode(kind: Activation): number {
  const code = ACT_KIND[kind];
  if (code === undefined) throw new BackendError(`activation ${kind} has no cpu kernel`);
  return code;
}

const BITS_F32 = new Float32Array(1);
const BITS_I32 = new Int32Array(BITS_F32.buffer);

/** f32 bits of x as an i32 (kernel arguments travel as i32); no allocation (this runs per call). */
export function f32Bits(x: number): number {
  BITS_F32[0] = x;
  return BITS_I32[0]!;
}

function checkRows(k: CpuKernels, r: Rows, n: number, len: number, what: string): void {
  k.check(r.ptr, (n - 1) * r.stride + len * 4, what);
}

/** out = x / rms(x) * w for n rows of len. */
export function rmsRows(k: CpuKernels, x: Rows, w: number, out: Rows, len: number, eps: number, n: number): void {
  checkRows(k, x, n, len, 'rmsNorm x');
  checkRows(k, out, n, len, 'rmsNorm out');
  k.check(w, len * 4, 'rmsNorm weight');
  k.runKernel('rms_rows', [x.ptr, x.stride, w, out.ptr, out.stride, len, f32Bits(eps)], n, 1, n * len * 8);
}

/** out = (x - mean) / std * w + b for n rows of len. */
export function lnRows(k: CpuKernels, x: Rows, w: number, b: number, out: Rows, len: number, eps: number, n: number): void {
  checkRows(k, x, n, len, 'layerNorm x');
  checkRows(k, out, n, len, 'layerNorm out');
  k.check(w, len * 4, 'layerNorm weight');
  k.check(b, len * 4, 'layerNorm bias');
  k.runKernel('ln_rows', [x.ptr, x.stride, w, b, out.ptr, out.stride, len, f32Bits(eps)], n, 1, n * len * 8);
}

/** out[i] = act(x[i]) for the n floats at x (out may be x). */
export function actF32(k: CpuKernels, kind: Activation, x: number, out: number, n: number): void {
  const code = ACT_KIND[kind];
  if (code === undefined) throw new BackendError(`activation ${kind} has no cpu kernel`);
  k.check(x, n * 4, 'activation x');
  k.check(out, n * 4, 'activation out');
  k.runKernel('act_f32', [code, x, out], n, 16, n * 8);
}

/** out[i] = a[i] + b[i] ('add') or a[i] * b[i] ('mul') for n floats (out may be a or b). */
export function binopF32(k: CpuKernels, op: 'add' | 'mul', a: number, b: number, out: number, n: number): void {
  k.check(a, n * 4, `${op} a`);
  k.check(b, n * 4, `${op} b`);
  k.check(out, n * 4, `${op} out`);
  k.runKernel('binop_f32', [op === 'mul' ? 1 : 0, a, b, out], n, 16, n * 12);
}

/**
 * Per RoPE table, f32 cos and sin of every position's angles, [positions, headDim] (cos for the
 * headDim / 2 pairs, then sin), computed in float64 as the reference does and grown on demand.
 */
export class RopeTables {
  private readonly tables = new Map<RopeTable, {ptr: number; bytes: number; positions: number}>();

  constructor(private readonly k: CpuKernels) {}

  /** The table's pointer, with room for positions 0 .. maxPos. */
  ensure(table: RopeTable, maxPos: number): number {
    const have = this.tables.get(table);
    if (have && have.positions > maxPos) return have.ptr;
    const {headDim, invFreq} = table;
    const half = headDim / 2;
    const positions = Math.max(maxPos + 1, 2 * (have?.positions ?? 0), 64);
    const bytes = positions * headDim * 4;
    const ptr = this.k.allocLasting(bytes);
    const t = this.k.f32(ptr, positions * headDim);
    for (let p = 0; p < positions; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * invFreq[i]!;
        t[p * headDim + i] = Math.cos(angle);
        t[p * headDim + half + i] = Math.sin(angle);
      }
    }
    if (have) {
      // a call left running may still read the old table: hand it back once that work is done
      this.k.queue.later(() => this.k.releaseLasting(have.ptr, have.bytes));
    }
    this.tables.set(table, {ptr, bytes, positions});
    return ptr;
  }
}

/** Rotates nHeads heads of hd in each of n rows of x, row r by the angles of positions[r]. */
export function ropeRows(k: CpuKernels, tables: RopeTables, x: Rows, nHeads: number, table: RopeTable, positions: readonly number[]): void {
  const n = positions.length;
  const hd = table.headDim;
  if (hd % 2 !== 0) throw new BackendError(`rope: headDim must be even, got ${hd}`);
  let maxPos = 0;
  for (const p of positions) {
    if (!(Number.isInteger(p) && p >= 0)) throw new BackendError(`rope: bad position ${p}`);
    maxPos = Math.max(maxPos, p);
  }
  checkRows(k, x, n, nHeads * hd, 'rope x');
  const ptr = tables.ensure(table, maxPos);
  const mark = k.mark();
  try {
    const pos = k.alloc(n * 4);
    k.i32(pos, n).set(positions);
    k.runKernel('rope_rows', [x.ptr, x.stride, nHeads, hd, ptr, pos], n, 1, n * nHeads * hd * 8);
  } finally {
    k.reset(mark);
  }
}

/** HiRE-FFN group scoring kernels (ffn_group_scores): silu (the host's estimate) and relu. */
const GROUP_ACT: Partial<Record<Activation, number>> = {silu: 0, relu: 1};

export function hasGroupScoreKernel(kind: Activation): boolean {
  return GROUP_ACT[kind] !== undefined;
}

/**
 * out[grp] for nGroups groups of g neurons: hire/ffn/groups.ts' neuron and group scores of the
 * prediction at pred (2n floats when gated, else n), bit for bit. The activation must have a
 * kernel (hasGroupScoreKernel).
 */
export function groupScoresF32(
  k: CpuKernels,
  pred: number,
  n: number,
  g: number,
  kind: Activation,
  gated: boolean,
  mode: 'max' | 'sum',
  out: number,
): void {
  const act = GROUP_ACT[kind];
  if (act === undefined) throw new BackendError(`ffnGroupScores: activation ${kind} has no cpu kernel`);
  if (!(Number.isInteger(g) && g >= 1 && n % g === 0)) throw new BackendError(`ffnGroupScores: group size ${g} must divide ${n}`);
  k.check(pred, (gated ? 2 * n : n) * 4, 'ffnGroupScores pred');
  k.check(out, (n / g) * 4, 'ffnGroupScores out');
  k.runKernel('ffn_group_scores', [pred, n, g, act, gated ? 1 : 0, mode === 'sum' ? 1 : 0, out], n / g, 1, 0);
}
