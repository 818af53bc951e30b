/**
 * The cpu kernels on ggml block weights (Q8_0, Q4_0; layouts in numeric/ggml-quant.ts, kernels in
 * kernels.wat, "ggml block weights"): their own file so the dense kernels' file stays as it is.
 * Every x is first turned into the "prepared x" (80 bytes per 32 columns: int16 values and a
 * scale) that the dot products read; weighted row sums and embedding rows widen the weights.
 * All pointers are byte offsets from CpuKernels.alloc().
 */
import {BackendError} from '../../errors.js';
import {BLOCK_BYTES, BLOCK_SIZE, type BlockFormat} from '../../numeric/ggml-quant.js';
import type {CpuKernels} from './kernels.js';

/** Bytes of the prepared x per 32-column block. */
export const PREPARED_BLOCK_BYTES = 80;
/** Rows per thread chunk, as for the dense kernels (whole 64-byte lines of y per thread). */
const ROW_ALIGN = 16;

export class BlockKernels {
  constructor(private readonly k: CpuKernels) {}

  /**
   * y = W x (ids null: every row; else y[i] = W[ids[i]] . x for the n listed rows) for an f32 x of
   * cols = nb * 32 values: prepares x in scratch memory, then runs the dot kernel.
   */
  dot(format: BlockFormat, w: number, rows: number, cols: number, x: number, y: number, ids: {ptr: number; n: number} | null): void {
    this.dotBatch(format, w, rows, cols, x, y, 1, ids);
  }

  /** The batched dot: xs [nv, cols] f32 back to back, ys [nv, rows or n]. */
  dotBatch(format: BlockFormat, w: number, rows: number, cols: number, xs: number, ys: number, nv: number, ids: {ptr: number; n: number} | null): void {
    const nb = blocksOf(cols);
    const k = this.k;
    const mark = k.mark();
    try {
      const xq = k.alloc(nv * nb * PREPARED_BLOCK_BYTES);
      this.prepare(xs, xq, nv * nb);
      // the scratch may be reset while the call runs on: later work is queued behind it (kernels.ts)
      if (nv === 1) {
        if (ids) this.matvecRows(format, w, rows, nb, ids.ptr, ids.n, xq, ys);
        else this.matvec(format, w, rows, nb, xq, ys);
      } else if (ids) {
        this.matvecRowsBatch(format, w, rows, nb, ids.ptr, ids.n, xq, ys, nv);
      } else {
        this.matvecBatch(format, w, rows, nb, xq, ys, nv);
      }
    } finally {
      k.reset(mark);
    }
  }

  /** Prepared x of `blocks` 32-column blocks of x (f32) into xq (blocks * 80 bytes), on the calling thread. */
  prepare(x: number, xq: number, blocks: number): void {
    this.k.runChecked('prep_x_blocks', [x, xq], blocks, 1, 0, [
      [x, blocks * BLOCK_SIZE * 4, 'prepare x'],
      [xq, blocks * PREPARED_BLOCK_BYTES, 'prepare xq'],
    ]);
  }

  /** y[rows] = W . x for W [rows, nb blocks], x prepared. */
  matvec(format: BlockFormat, w: number, rows: number, nb: number, xq: number, y: number): void {
    const bytes = rows * nb * BLOCK_BYTES[format];
    this.k.runChecked(`matvec_${format}`, [w, xq, y, nb], rows, ROW_ALIGN, bytes, [
      [w, bytes, 'matvec w'],
      [xq, nb * PREPARED_BLOCK_BYTES, 'matvec xq'],
      [y, rows * 4, 'matvec y'],
    ]);
  }

  /** y[i] = W[ids[i]] . x for i < n (ids checked against rows). */
  matvecRows(format: BlockFormat, w: number, rows: number, nb: number, ids: number, n: number, xq: number, y: number): void {
    this.checkIds('matvecRows', ids, n, rows);
    this.k.runChecked(`matvec_rows_${format}`, [w, xq, y, nb, ids], n, ROW_ALIGN, n * nb * BLOCK_BYTES[format], [
      [w, rows * nb * BLOCK_BYTES[format], 'matvecRows w'],
      [xq, nb * PREPARED_BLOCK_BYTES, 'matvecRows xq'],
      [y, n * 4, 'matvecRows y'],
    ]);
  }

  /** ys[v*rows + r] = W[r] . xs[v] for v < nv (xs: nv prepared vectors back to back). */
  matvecBatch(format: BlockFormat, w: number, rows: number, nb: number, xqs: number, ys: number, nv: number): void {
    const bytes = rows * nb * BLOCK_BYTES[format];
    this.k.runChecked(`matvec_batch_${format}`, [w, xqs, ys, nb, rows, nv], rows, ROW_ALIGN, bytes, [
      [w, bytes, 'matvecBatch w'],
      [xqs, nv * nb * PREPARED_BLOCK_BYTES, 'matvecBatch xqs'],
      [ys, nv * rows * 4, 'matvecBatch ys'],
    ]);
  }

  /** ys[v*n + i] = W[ids[i]] . xs[v]: gathered rows, each read once for all nv vectors. */
  matvecRowsBatch(format: BlockFormat, w: number, rows: number, nb: number, ids: number, n: number, xqs: number, ys: number, nv: number): void {
    this.checkIds('matvecRowsBatch', ids, n, rows);
    this.k.runChecked(`matvec_rows_batch_${format}`, [w, xqs, ys, nb, n, nv, ids], n, ROW_ALIGN, n * nb * BLOCK_BYTES[format], [
      [w, rows * nb * BLOCK_BYTES[format], 'matvecRowsBatch w'],
      [xqs, nv * nb * PREPARED_BLOCK_BYTES, 'matvecRowsBatch xqs'],
      [ys, nv * n * 4, 'matvecRowsBatch ys'],
    ]);
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
    const operands: Array<[number, number, string]> = [
      [w, rows * nb * BLOCK_BYTES[format], 'accumulateRows w'],
      [coef, n * 4, 'accumulateRows coef'],
      [y, cols * 4, 'accumulateRows y'],
    ];
    const threads = k.threadsFor(work);
    if (threads > 1 && n >= 8 * threads) {
      const align = 4;
      const chunk = Math.ceil(n / threads / align) * align; // the pool's split (splitRange)
      const parts = Math.ceil(n / chunk);
      const mark = k.mark();
      try {
        const pp = k.alloc(parts * cols * 4);
        k.runChecked(`accum_rows_part_${format}`, [w, coef, pp, nb, ids, chunk], n, align, work, operands);
        // partial sums are complete once the call is; later work is queued behind it (see kernels.ts)
        k.queue.later(() => {
          const out = k.f32(y, cols);
          const ps = k.f32(pp, parts * cols);
          out.set(ps.subarray(0, cols));
          for (let p = 1; p < parts; p++) for (let c = 0, o = p * cols; c < cols; c++) out[c] = out[c]! + ps[o + c]!;
        });
      } finally {
        k.reset(mark);
      }
      return;
    }
    k.runChecked(`accum_rows_${format}`, [w, coef, y, nb, ids, n], nb, 1, work, operands);
  }

  /** ys[v*cols + c] = sum_i coefs[v*n + i] * W[row(i), c] for v < nv; threads split the column blocks. */
  accumulateRowsBatch(format: BlockFormat, w: number, rows: number, nb: number, ids: number, n: number, coefs: number, ys: number, nv: number): void {
    if (ids !== 0) this.checkIds('accumulateRowsBatch', ids, n, rows);
    else if (n > rows) throw new BackendError(`accumulateRowsBatch: ${n} rows requested from a matrix of ${rows}`);
    this.k.runChecked(`accum_rows_batch_${format}`, [w, coefs, ys, nb, ids, n, nv], nb, 1, n * nb * BLOCK_BYTES[format], [
      [w, rows * nb * BLOCK_BYTES[format], 'accumulateRowsBatch w'],
      [coefs, nv * n * 4, 'accumulateRowsBatch coefs'],
      [ys, nv * nb * BLOCK_SIZE * 4, 'accumulateRowsBatch ys'],
    ]);
  }

  /** dst[nb * 32] f32 = the nb blocks at src, exactly (embedding rows). */
  widen(format: BlockFormat, src: number, dst: number, nb: number): void {
    this.k.runChecked(`widen_${format}`, [src, dst], nb, 1, 0, [
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
