/**
 * The cpu kernels on ggml block weights (Q8_0, Q4_0; layouts in numeric/ggml-quant.ts, kernels in
 * kernels.wat, "ggml block weights"): their own file so the dense kernels' file stays as it is.
 * Dot products take x as f32 (exact) or, in 'int16' and 'int8' modes, first turn it into the
 * "prepared x" (80 bytes per 32 columns: int16 or int8 values and a scale) and multiply in
 * integers (about twice as fast, and up to ~1e-3 off on the logits where activations have
 * outliers with int16; int8 rounds as llama.cpp does). Weighted row sums and embedding rows
 * widen the weights. All pointers are byte offsets from CpuKernels.alloc().
 */
import {BackendError} from '../../errors.js';
import {BLOCK_BYTES, BLOCK_SIZE, type BlockFormat} from '../../numeric/ggml-quant.js';
import type {CpuKernels} from './kernels.js';
import {partLength} from './control.js';

/**
 * How the dot products take the activations (see kernels.wat, "ggml block weights"): f32 as they
 * are, int16 (rounded to 16 bits per block), or int8 (Q4_0 weights: rounded to 8 bits per block,
 * as llama.cpp does, and multiplied 16 at a time by relaxed SIMD's 8-bit dot product; Q8_0
 * weights: as int16, since an 8-bit by 8-bit product has no such instruction in WebAssembly).
 */
export type BlockActivations = 'f32' | 'int16' | 'int8';

/** Bytes of the prepared x per 32-column block. */
export const PREPARED_BLOCK_BYTES = 80;
/** Rows per thread chunk, as for the dense kernels (whole 64-byte lines of y per thread). */
const ROW_ALIGN = 16;

/**
 * The kernels' `kind` argument: bit 0 q4_0, bit 1 integer activations, bit 2 every half scale of
 * the matrix is a normal number (the integer loops then run their copies without the subnormal
 * fix-up, kernels.wat "@normal-scales"), bit 3 8-bit activations (q4_0 only).
 */
function kindOf(format: BlockFormat, activations: BlockActivations = 'f32', normalScales = false): number {
  const q4 = format === 'q4_0';
  return (q4 ? 1 : 0) | (activations !== 'f32' ? 2 : 0) | (normalScales ? 4 : 0) | (q4 && activations === 'int8' ? 8 : 0);
}

export class BlockKernels {
  /** Matrices (by pointer) whose half scales were all found normal when they were noted. */
  private readonly normal = new Set<number>();
  private noted = false;

  constructor(
    private readonly k: CpuKernels,
    readonly activations: BlockActivations = 'f32',
  ) {}

  /**
   * Looks at every block scale of the matrix uploaded to w from `bytes` (its blocks, rows after
   * rows; the backend never moves or rewrites a matrix): with no zero or subnormal half among
   * them, its dot products take the loops without the subnormal fix-up. Not noted: the loops with it.
   */
  noteScales(format: BlockFormat, w: number, bytes: Uint8Array): void {
    this.noted = true;
    const stride = BLOCK_BYTES[format];
    // the half's exponent bits are bits 2-6 of its high byte (little-endian)
    for (let o = 0; o < bytes.length; o += stride) if ((bytes[o + 1]! & 0x7c) === 0) return;
    this.normal.add(w);
  }

  /** Whether any block matrix was noted (the backend then holds block weights). */
  get holdsWeights(): boolean {
    return this.noted;
  }

  /** True when the matrix at w was noted with only normal half scales (its dots skip the fix-up). */
  normalScales(w: number): boolean {
    return this.normal.has(w);
  }

  /**
   * ys = W xs for nv f32 vectors of cols = nb * 32 values back to back (ys [nv, rows]); with ids,
   * ys[v*n + i] = W[ids[i]] . xs[v] for the n listed rows (checked against rows). Each weight row
   * is read once for all the vectors. `owners` (0: none; nv >= 2): one u32 mask per output row,
   * bit v = vector v needs it (nv <= 32): only those entries are computed, the others are 0.
   */
  dot(format: BlockFormat, w: number, rows: number, cols: number, xs: number, ys: number, nv: number, ids: {ptr: number; n: number} | null, owners = 0): void {
    const nb = blocksOf(cols);
    const k = this.k;
    const n = ids ? ids.n : rows;
    if (ids) this.checkIds('matvecRows', ids.ptr, ids.n, rows);
    if (nv > 1) k.checkOwners(ids ? 'matvecRowsBatch' : 'matvecBatch', owners, n, nv);
    const prepared = this.activations !== 'f32'; // int16 and int8 both take the prepared x (kernels.wat)
    const int8 = this.activations === 'int8' && format === 'q4_0';
    const xBytes = nv * nb * (prepared ? PREPARED_BLOCK_BYTES : BLOCK_SIZE * 4);
    const weightBytes = rows * nb * BLOCK_BYTES[format];
    const mark = k.mark();
    try {
      let x = xs;
      if (prepared) {
        x = k.alloc(xBytes);
        k.runChecked('prep_x_blocks', [xs, x, nb, int8 ? 1 : 0], nv * nb, 1, 0, [[xs, nv * cols * 4, 'x']]);
      }
      // the scratch may be reset while the call runs on: later work is queued behind it (kernels.ts)
      const kind = kindOf(format, this.activations, this.normal.has(w));
      const operands: Array<[number, number, string]> = [
        [w, weightBytes, 'w'],
        [x, xBytes, 'x'],
        [ys, nv * n * 4, 'y'],
      ];
      const work = n * nb * BLOCK_BYTES[format];
      // every output row is its own row's dot product, in the same order for any split (kernels.wat)
      if (nv === 1 && !ids) k.runChecked('matvec_blocks', [w, x, ys, nb, kind], rows, ROW_ALIGN, work, operands, true);
      else if (nv === 1) k.runChecked('matvec_rows_blocks', [w, x, ys, nb, ids!.ptr, kind], n, ROW_ALIGN, work, operands, true);
      else if (!ids) k.runChecked('matvec_batch_blocks', [w, x, ys, nb, rows, nv, kind, owners], rows, ROW_ALIGN, work, operands, true);
      else k.runChecked('matvec_rows_batch_blocks', [w, x, ys, nb, n, nv, ids.ptr, kind, owners], n, ROW_ALIGN, work, operands, true);
    } finally {
      k.reset(mark);
    }
  }

  /**
   * y[nb * 32] = sum_i coef[i] * W[row(i)] for i < n, row(i) = ids[i] (ids = 0: rows 0..n-1).
   * Large sums split the rows over the threads into partial sums that are then added (each
   * thread reads whole rows), small ones run on the calling thread.
   */
  accumulateRows(format: BlockFormat, w: number, rows: number, nb: number, ids: number, n: number, coef: number, y: number): void {
    const k = this.k;
    if (ids !== 0) this.checkIds('accumulateRows', ids, n, rows);
    else if (n > rows) throw new BackendError(`accumulateRows: ${n} rows requested from a matrix of ${rows}`);
    const cols = nb * BLOCK_SIZE;
    const work = n * nb * BLOCK_BYTES[format];
    const kind = kindOf(format);
    const operands: Array<[number, number, string]> = [
      [w, rows * nb * BLOCK_BYTES[format], 'accumulateRows w'],
      [coef, n * 4, 'accumulateRows coef'],
      [y, cols * 4, 'accumulateRows y'],
    ];
    const threads = k.threadsFor(work);
    if (threads > 1 && n >= 8 * threads) {
      const align = 4;
      const chunk = partLength(n, threads, align);
      const parts = Math.ceil(n / chunk);
      const mark = k.mark();
      try {
        const pp = k.alloc(parts * cols * 4);
        k.runChecked('accum_rows_part_blocks', [w, coef, pp, nb, ids, chunk, kind], n, align, work, operands);
        // partial sums are complete once the call is; later work is queued behind it (see kernels.ts)
        k.addParts(pp, parts, cols, y);
      } finally {
        k.reset(mark);
      }
      return;
    }
    k.runChecked('accum_rows_blocks', [w, coef, y, nb, ids, n, kind], nb, 1, work, operands);
  }

  /**
   * ys[v*cols + c] = sum_i coefs[i*nv + v] * W[row(i), c] for v < nv (coefs [n, nv], as the dense
   * form); threads split the column blocks. `owners` (0: none): n u32 masks, as the dense form.
   */
  accumulateRowsBatch(format: BlockFormat, w: number, rows: number, nb: number, ids: number, n: number, coefs: number, ys: number, nv: number, owners = 0): void {
    if (ids !== 0) this.checkIds('accumulateRowsBatch', ids, n, rows);
    else if (n > rows) throw new BackendError(`accumulateRowsBatch: ${n} rows requested from a matrix of ${rows}`);
    this.k.checkOwners('accumulateRowsBatch', owners, n, nv);
    this.k.runChecked('accum_rows_batch_blocks', [w, coefs, ys, nb, ids, n, nv, kindOf(format), owners], nb, 1, n * nb * BLOCK_BYTES[format], [
      [w, rows * nb * BLOCK_BYTES[format], 'accumulateRowsBatch w'],
      [coefs, nv * n * 4, 'accumulateRowsBatch coefs'],
      [ys, nv * nb * BLOCK_SIZE * 4, 'accumulateRowsBatch ys'],
    ]);
  }

  /** dst[nb * 32] f32 = the nb blocks at src, exactly (embedding rows). */
  widen(format: BlockFormat, src: number, dst: number, nb: number): void {
    this.k.runChecked('widen_blocks', [src, dst, kindOf(format)], nb, 1, 0, [
      [src, nb * BLOCK_BYTES[format], 'widen src'],
      [dst, nb * BLOCK_SIZE * 4, 'widen dst'],
    ]);
  }

  private checkIds(what: string, ids: number, n: number, rows: number): void {
    if (n === 0) return;
    const idv = this.k.i32(ids, n);
    for (let i = 0; i < n; i++) {
      const id = idv[i]!;
      if (!(id >= 0 && id < rows)) throw new BackendError(`${what}: row ids must lie in [0, ${rows}), got ${id}`);
    }
  }
}

/** Blocks per row of `cols` columns (a multiple of 32). */
export function blocksOf(cols: number): number {
  if (!Number.isInteger(cols) || cols < BLOCK_SIZE || cols % BLOCK_SIZE !== 0) {
    throw new BackendError(`ggml block rows need a multiple of ${BLOCK_SIZE} columns, got ${cols}`);
  }
  return cols / BLOCK_SIZE;
}
