/**
 * The webgpu backend's kernels against the reference backend on random data, three times: with
 * the kernel shapes chosen for this adapter (llvmpipe: one thread per row, no barriers), with the
 * GPU shapes (64 threads per row, 256-thread norms) plus matrices split into small chunks, the
 * path taken by matrices above maxStorageBufferBindingSize, and with 8 threads per row; keepTopK
 * both as the parallel radix select and as the one-thread kernel. The kernels every backend shares
 * are test/helpers/kernel-parity.ts (which states their tolerances); here are the webgpu-only
 * ones: matrix dtypes and sizes, quantised matvecs, accumulateRows, the batched kernels and keepTopK.
 * Tolerances: matvecs 1e-5 of the largest output (f32 against float64); copies and keepTopK exact.
 */
import {afterAll, describe, expect, it} from 'vitest';
import type {Backend, HostQuantMatrix, Mat} from '../../../src/core/backends/backend.js';
import type {WebGpuBackend, WebGpuBackendOptions} from '../../../src/core/backends/webgpu/webgpu-backend.js';
import {quantize, type QuantBits} from '../../../src/core/numeric/quant.js';
import {againstReference, kernelParitySuite} from '../../helpers/kernel-parity.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {expectClose, randomArray, randomMatrix, rng} from './tfjs/helpers.js';

afterAll(disposeWebGpu);

/** Dense matvec shapes: [130, 300] f32 rows (1200 bytes) still fit the 2 KiB chunks of a variant. */
const MATVEC_SHAPES = [
  [1, 1],
  [37, 53],
  [130, 300],
] as const;

const VARIANTS: Array<[string, WebGpuBackendOptions]> = [
  ['adapter kernel shapes', {}],
  ['GPU kernel shapes, 2 KiB chunks', {threadsPerRow: 64, normThreads: 256, maxChunkBytes: 2048, serialTopK: false}],
  ['8 threads per row, serial top-k', {threadsPerRow: 8, normThreads: 8, serialTopK: true}],
];

for (const [variant, opts] of VARIANTS) {
  describe.skipIf(SKIP_WEBGPU)(`webgpu kernels (${variant})`, () => {
    let gpu: WebGpuBackend;
    const {ref, both, vecs, mats, readBoth} = againstReference(() => gpu);

    it('starts', async () => {
      gpu = await openWebGpu(opts);
      expect(gpu.describe()).toMatch(/^webgpu \(/);
    });

    it('keeps the dtype and the bytes of every dense matrix', () => {
      for (const dtype of ['f32', 'f16', 'bf16'] as const) {
        for (const [rows, cols] of MATVEC_SHAPES) {
          const w = mats(randomMatrix(dtype, rows, cols, rng(rows * 1000 + cols)));
          expect([w[0].dtype, w[0].bytes], `${dtype} [${rows}, ${cols}]`).toEqual([dtype, w[1].bytes]);
        }
      }
    });

    kernelParitySuite('webgpu', () => gpu, {matvecShapes: MATVEC_SHAPES});

    const QUANT: Array<[QuantBits, number, number, number]> = [
      [8, 37, 53, 53],
      [8, 40, 96, 32],
      [4, 33, 64, 32],
      [4, 20, 257, 64],
      [2, 17, 96, 32],
      [8, 9, 40, 10], // groups that split a word: held as f32
    ];
    for (const [bits, rows, cols, gs] of QUANT) {
      it(`matvec q${bits} [${rows}, ${cols}] groups of ${gs}, and its rows`, async () => {
        const random = rng(bits * 100 + cols);
        const q: HostQuantMatrix = quantize(randomArray(rows * cols, random), rows, cols, bits, gs);
        const w = both((b) => b.uploadQuantMatrix(q));
        const x = vecs(randomArray(cols, random));
        const out = both((b) => b.createVector(rows));
        gpu.matvec(w[0], x[0], out[0]);
        ref.matvec(w[1], x[1], out[1]);
        expectClose(...(await readBoth(out)), 1e-5);
        const pick = Int32Array.from([rows - 1, 0, 3, 3]);
        const sel = both((b) => b.createVector(4));
        gpu.matvecRows(w[0], pick, x[0], sel[0]);
        ref.matvecRows(w[1], pick, x[1], sel[1]);
        expectClose(...(await readBoth(sel)), 1e-5);
      });
    }

    for (const dtype of ['f32', 'bf16', 'q4'] as const) {
      it(`accumulateRows ${dtype}: listed rows, every row, with bias, and an empty list`, async () => {
        const random = rng(17);
        const [rows, cols] = [90, 70];
        const q = dtype === 'q4' ? quantize(randomArray(rows * cols, random), rows, cols, 4, 32) : null;
        const w: [Mat, Mat] = q ? both((b) => b.uploadQuantMatrix(q)) : mats(randomMatrix(dtype as 'f32' | 'bf16', rows, cols, random));
        const bias = vecs(randomArray(cols, random));
        const out = both((b) => b.createVector(cols));
        const pick = Int32Array.from([89, 4, 4, 50, 0, 33]);
        const coef = vecs(randomArray(pick.length, random));
        gpu.accumulateRows(w[0], pick, coef[0], out[0], bias[0]);
        ref.accumulateRows(w[1], pick, coef[1], out[1], bias[1]);
        expectClose(...(await readBoth(out)), 1e-5);
        const all = vecs(randomArray(rows, random));
        gpu.accumulateRows(w[0], null, all[0], out[0]);
        ref.accumulateRows(w[1], null, all[1], out[1]);
        expectClose(...(await readBoth(out)), 1e-5);
        gpu.accumulateRows(w[0], new Int32Array(0), coef[0], out[0], bias[0]);
        expect(Array.from(await gpu.read(out[0]))).toEqual(Array.from(await gpu.read(bias[0])));
      });
    }

    it('batched matvec, matvecRows and accumulateRows equal the reference per sequence', async () => {
      const random = rng(19);
      const [rows, cols, batch] = [50, 40, 3];
      const w = mats(randomMatrix('f16', rows, cols, random));
      const bias = vecs(randomArray(rows, random));
      const xs = Array.from({length: batch}, () => vecs(randomArray(cols, random)));
      const outs = Array.from({length: batch}, () => both((b) => b.createVector(rows)));
      const pick = Int32Array.from([7, 0, 49]);
      const sel = Array.from({length: batch}, () => both((b) => b.createVector(3)));
      const acc = Array.from({length: batch}, () => both((b) => b.createVector(cols)));
      const coefs = Array.from({length: batch}, () => vecs(randomArray(3, random)));
      ([gpu, ref] as Backend[]).forEach((be, i) => {
        be.matvecBatch(w[i]!, xs.map((p) => p[i]!), outs.map((p) => p[i]!), bias[i]);
        be.matvecRowsBatch(w[i]!, pick, xs.map((p) => p[i]!), sel.map((p) => p[i]!));
        be.accumulateRowsBatch(w[i]!, pick, coefs.map((p) => p[i]!), acc.map((p) => p[i]!));
      });
      for (let b = 0; b < batch; b++) {
        expectClose(...(await readBoth(outs[b]!)), 1e-5);
        expectClose(...(await readBoth(sel[b]!)), 1e-5);
        expectClose(...(await readBoth(acc[b]!)), 1e-5);
      }
    });

    it('keepTopK by value and by magnitude, with ties, zeros and -0, k from 0 to n', async () => {
      const random = rng(15);
      const cases: Float32Array[] = [
        randomArray(1000, random),
        randomArray(20000, random), // above what llvmpipe lets one thread loop over: the parallel select
        Float32Array.from({length: 300}, () => Math.round(random() * 8 - 4)), // many ties
        Float32Array.from([0, -0, 0, 1, -1, 0, -0, 2, -2]),
      ];
      for (const data of cases) {
        for (const k of [0, 1, 2, 5, Math.floor(data.length / 3), data.length - 1, data.length]) {
          for (const byMagnitude of [false, true]) {
            const x = vecs(data);
            gpu.keepTopK(x[0], k, byMagnitude);
            ref.keepTopK(x[1], k, byMagnitude);
            const [got, want] = await readBoth(x);
            expect(Array.from(got, (g) => g + 0), `k ${k} byMagnitude ${byMagnitude}`).toEqual(Array.from(want, (w) => w + 0));
          }
        }
      }
    });
  });
}
