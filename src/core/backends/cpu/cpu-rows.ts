/**
 * The cpu backend's work on blocks of rows: where a list of row vectors lies in the shared memory
 * (one strided block, or scattered), the matrix-matrix product for a block, and attention of one
 * row, a block of rows, or one row of each of several sequences over CpuKvCaches. Split from
 * cpu-backend.ts, which keeps the per-vector kernels and the queueing behind a call left running.
 */
import type {AttentionShape} from '../backend.js';
import {BackendError} from '../../errors.js';
import {attend, attendSeqs, gemm, kvStore, type SeqRow} from './prompt-kernels.js';
import type {CpuKernels, DenseDtype} from './kernels.js';
import type {CpuKvCache} from './kv-cache.js';

/** A vector in the shared memory. */
export interface RowVec {
  readonly ptr: number;
  readonly length: number;
}

/** Fewest rows for which the matrix-matrix kernel beats the batched matvec (both read W once). */
export const GEMM_MIN_ROWS = 4;

/** The byte stride when every vector follows the previous one at a fixed stride (at least its length), else null. */
export function strideOf(vecs: readonly RowVec[]): number | null {
  if (vecs.length < 2) return vecs.length === 1 ? vecs[0]!.length * 4 : null;
  const stride = vecs[1]!.ptr - vecs[0]!.ptr;
  if (stride < vecs[0]!.length * 4) return null;
  for (let i = 2; i < vecs.length; i++) if (vecs[i]!.ptr - vecs[i - 1]!.ptr !== stride) return null;
  return stride;
}

/**
 * fn over strided blocks: once for all n rows when every list is strided (each a block of rows at
 * a fixed stride), else once per row (stride 0, n = 1).
 */
export function byBlock(lists: readonly (readonly RowVec[])[], fn: (rows: Array<{ptr: number; stride: number}>, n: number) => void): void {
  const n = lists[0]!.length;
  if (n === 0) return;
  const strides = lists.map(strideOf);
  if (n > 1 && strides.every((st) => st !== null)) {
    fn(lists.map((l, i) => ({ptr: l[0]!.ptr, stride: strides[i]!})), n);
    return;
  }
  for (let r = 0; r < n; r++) fn(lists.map((l) => ({ptr: l[r]!.ptr, stride: 0})), 1);
}

/**
 * fn over elements: once over all n * length floats when every list is one dense block (and every
 * vector as long as the first list's), else once per row.
 */
export function byElements(lists: readonly (readonly RowVec[])[], fn: (ptrs: number[], count: number) => void): void {
  const n = lists[0]!.length;
  if (n === 0) return;
  const len = lists[0]![0]!.length;
  if (n > 1 && lists.every((l) => l[0]!.length === len && isDenseBlock(l))) {
    fn(lists.map((l) => l[0]!.ptr), n * len);
    return;
  }
  for (let r = 0; r < n; r++) fn(lists.map((l) => l[r]!.ptr), lists[lists.length - 1]![r]!.length);
}

/** True when the vectors form one dense [n, length] block (row i right after row i - 1). */
export function isDenseBlock(vecs: readonly RowVec[]): boolean {
  return vecs.length > 0 && strideOf(vecs) === vecs[0]!.length * 4;
}

/**
 * outs[b] = W xs[b] (+ bias) for a block through the matrix-matrix kernel, in place when xs and
 * outs are dense blocks, else through packed copies (the unpacking waits for a call left running).
 */
export function blockMatmul(
  k: CpuKernels,
  dtype: DenseDtype,
  w: {ptr: number; rows: number; cols: number},
  xs: readonly RowVec[],
  outs: readonly RowVec[],
  bias: RowVec | undefined,
): void {
  const nb = xs.length;
  const biasPtr = bias ? bias.ptr : 0;
  if (isDenseBlock(xs) && isDenseBlock(outs)) {
    gemm(k, dtype, w.ptr, w.rows, w.cols, xs[0]!.ptr, outs[0]!.ptr, nb, biasPtr);
    return;
  }
  const mark = k.mark();
  try {
    const inPtr = k.alloc(nb * w.cols * 4);
    const outPtr = k.alloc(nb * w.rows * 4);
    const block = k.f32(inPtr, nb * w.cols);
    xs.forEach((v, b) => block.set(k.f32(v.ptr, w.cols), b * w.cols));
    gemm(k, dtype, w.ptr, w.rows, w.cols, inPtr, outPtr, nb, biasPtr);
    // read when the call is over (the reset below only moves the arena's top)
    k.queue.later(() => {
      const res = k.f32(outPtr, nb * w.rows);
      outs.forEach((v, b) => k.f32(v.ptr, w.rows).set(res.subarray(b * w.rows, (b + 1) * w.rows)));
    });
  } finally {
    k.reset(mark);
  }
}

function checkShape(cache: CpuKvCache, shape: AttentionShape): void {
  const s = cache.shape;
  if (shape.nKvHeads !== s.nKvHeads || shape.headDim !== s.headDim) {
    throw new BackendError(`attention: ${shape.nKvHeads} kv heads of ${shape.headDim} against a cache of ${s.nKvHeads} of ${s.headDim}`);
  }
}

/** One row of each of several sequences (distinct caches), in one kernel call: see attendSeqs. */
export function attendSeqRows(k: CpuKernels, caches: readonly CpuKvCache[], layer: number, shape: AttentionShape, rows: readonly SeqRow[]): void {
  for (const c of caches) checkShape(c, shape);
  attendSeqs(k, caches.map((c) => c.layer(layer)), rows, shape.nHeads);
}

/**
 * Rows of one sequence at positions pos0 .. pos0 + n - 1: their keys and values into the cache,
 * then each row's attention over positions 0 .. its own. One kernel call for the block when
 * the rows' vectors are strided blocks, else one per row.
 */
export function attendRows(
  k: CpuKernels,
  cache: CpuKvCache,
  layer: number,
  pos0: number,
  shape: AttentionShape,
  rows: {qs: readonly RowVec[]; ks: readonly RowVec[]; vs: readonly RowVec[]; outs: readonly RowVec[]},
): void {
  checkShape(cache, shape);
  const n = rows.qs.length;
  if (!(Number.isInteger(pos0) && pos0 >= 0 && pos0 + n <= cache.maxSeqLen)) {
    throw new RangeError(`attention: position ${pos0 + n - 1} outside the cache (0..${cache.maxSeqLen - 1})`);
  }
  const l = cache.layer(layer);
  const [qStride, kStride, vStride, outStride] = [rows.qs, rows.ks, rows.vs, rows.outs].map(strideOf);
  if (n > 1 && qStride !== null && outStride !== null && kStride !== null && kStride === vStride) {
    kvStore(k, l, rows.ks[0]!.ptr, rows.vs[0]!.ptr, kStride, pos0, n);
    attend(k, l, {qs: rows.qs[0]!.ptr, qStride, outs: rows.outs[0]!.ptr, outStride, n, pos0, nHeads: shape.nHeads});
    return;
  }
  for (let i = 0; i < n; i++) {
    kvStore(k, l, rows.ks[i]!.ptr, rows.vs[i]!.ptr, 0, pos0 + i, 1);
    attend(k, l, {qs: rows.qs[i]!.ptr, qStride: 0, outs: rows.outs[i]!.ptr, outStride: 0, n: 1, pos0: pos0 + i, nHeads: shape.nHeads});
  }
}
