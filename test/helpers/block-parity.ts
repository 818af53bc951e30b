/**
 * The kernels on ggml block matrices (q8_0, q4_0) against the reference backend, which holds the
 * blocks dequantised exactly (the oracle): matvec (with and without bias), gathered rows, the
 * weighted row sums (listed rows and all rows, with bias), every batched form and embedRow. Each
 * backend's test calls blockParitySuite. Tolerance: 1e-4 of the largest reference output (the cpu
 * backend rounds activations to 16 bits per 32-column block; the others compute in f32).
 */
import {describe, expect, it} from 'vitest';
import type {Backend, BlockHostMatrix, Mat, Vec} from '../../src/core/backends/backend.js';
import {quantizeBlocks, type BlockFormat} from '../../src/core/numeric/ggml-quant.js';
import {againstReference} from './kernel-parity.js';
import {expectClose, randomArray, rng} from '../core/backends/tfjs/helpers.js';

export const BLOCK_TOLERANCE = 1e-4;

/** A random block matrix (weights uniform in +-1/sqrt(cols), quantised by ggml's reference rule). */
export function randomBlockMatrix(format: BlockFormat, rows: number, cols: number, random: () => number): BlockHostMatrix {
  return {dtype: format, rows, cols, data: quantizeBlocks(format, randomArray(rows * cols, random, 1 / Math.sqrt(cols)), rows, cols)};
}

/** [rows, cols] cases: one block per row, odd row counts, and rows long enough to split over threads. */
const SHAPES: ReadonlyArray<readonly [number, number]> = [
  [1, 32],
  [37, 96],
  [130, 256],
  [515, 512],
];

export function blockParitySuite(name: string, backend: () => Backend): void {
  const {ref, both, vecs, mats, readBoth} = againstReference(backend);
  const outs = (n: number) => both((b) => b.createVector(n));
  const check = async (pair: [Vec, Vec]) => expectClose(...(await readBoth(pair)), BLOCK_TOLERANCE);

  for (const format of ['q8_0', 'q4_0'] as const) {
    describe(`${name}: ${format} kernels`, () => {
      for (const [rows, cols] of SHAPES) {
        it(`matvec, matvecRows and embedRow on [${rows}, ${cols}]`, async () => {
          const be = backend();
          const random = rng(rows * 7 + cols);
          const w = mats(randomBlockMatrix(format, rows, cols, random));
          expect([format, "f32"]).toContain(w[0].dtype); // tfjs holds blocks as f32
          if (w[0].dtype === format) expect(w[0].bytes).toBe(w[1].bytes);
          const x = vecs(randomArray(cols, random));
          const bias = vecs(randomArray(rows, random));
          const y = outs(rows);
          be.matvec(w[0], x[0], y[0]);
          ref.matvec(w[1], x[1], y[1]);
          await check(y);
          be.matvec(w[0], x[0], y[0], bias[0]);
          ref.matvec(w[1], x[1], y[1], bias[1]);
          await check(y);
          const ids = Int32Array.from({length: Math.min(rows, 40) + 3}, () => Math.floor(random() * rows));
          const g = outs(ids.length);
          be.matvecRows(w[0], ids, x[0], g[0]);
          ref.matvecRows(w[1], ids, x[1], g[1]);
          await check(g);
          const e = outs(cols);
          be.embedRow(w[0], rows - 1, e[0]);
          ref.embedRow(w[1], rows - 1, e[1]);
          const [got, want] = await readBoth(e);
          expect(Array.from(got, (v) => v + 0)).toEqual(Array.from(want, (v) => v + 0)); // exact (the sign of a zero aside)
        });

        it(`accumulateRows on [${rows}, ${cols}]: listed rows, all rows, with bias`, async () => {
          const be = backend();
          const random = rng(rows * 11 + cols);
          const w = mats(randomBlockMatrix(format, rows, cols, random));
          const bias = vecs(randomArray(cols, random));
          const ids = Int32Array.from({length: Math.min(rows, 70)}, (_, i) => (i * 7919) % rows);
          const coef = vecs(randomArray(ids.length, random));
          const y = outs(cols);
          be.accumulateRows(w[0], ids, coef[0], y[0]);
          ref.accumulateRows(w[1], ids, coef[1], y[1]);
          await check(y);
          const all = vecs(randomArray(rows, random));
          be.accumulateRows(w[0], null, all[0], y[0], bias[0]);
          ref.accumulateRows(w[1], null, all[1], y[1], bias[1]);
          await check(y);
        });
      }

      for (const nv of [1, 3, 6]) {
        it(`batched forms with ${nv} vectors equal the unbatched kernels`, async () => {
          const be = backend();
          const [rows, cols] = [67, 128];
          const random = rng(nv * 101);
          const host = randomBlockMatrix(format, rows, cols, random);
          const w = be.uploadMatrix(host);
          const wr = ref.uploadMatrix(host);
          const xs = Array.from({length: nv}, () => randomArray(cols, random));
          const ids = Int32Array.from([5, 66, 0, 5, 31, 32, 12]);
          const coefs = Array.from({length: nv}, () => randomArray(ids.length, random));
          const run = async (b: Backend, m: Mat) => {
            const xv = xs.map((x) => b.uploadVector(x));
            const cv = coefs.map((c) => b.uploadVector(c));
            const dense = xv.map(() => b.createVector(rows));
            const gathered = xv.map(() => b.createVector(ids.length));
            const summed = cv.map(() => b.createVector(cols));
            b.matvecBatch(m, xv, dense);
            b.matvecRowsBatch(m, ids, xv, gathered);
            b.accumulateRowsBatch(m, ids, cv, summed);
            return Promise.all([...dense, ...gathered, ...summed].map((v) => b.read(v)));
          };
          const [got, want] = [await run(be, w), await run(ref, wr)];
          got.forEach((g, i) => expectClose(g, want[i]!, BLOCK_TOLERANCE));
        });
      }
    });
  }
}
