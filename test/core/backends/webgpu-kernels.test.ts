/**
 * Every kernel of the webgpu backend against the reference backend on random data, twice: with
 * the kernel shapes chosen for this adapter (llvmpipe: one thread per row, no barriers), and with
 * the GPU shapes (64 threads per row, 256-thread norms) plus matrices split into small chunks, the
 * path taken by matrices above maxStorageBufferBindingSize, and with 8 threads per row; keepTopK
 * both as the parallel radix select and as the one-thread kernel.
 * Tolerances: matvecs 1e-5 of the largest output (f32 against float64); norms, RoPE, attention
 * and activations 1e-5 relative plus 1e-6 absolute; copies and keepTopK exact.
 */
import {afterAll, describe, expect, it} from 'vitest';
import type {Activation} from '../../../src/core/model/config.js';
import type {Backend, HostMatrix, HostQuantMatrix, Mat, Vec} from '../../../src/core/backends/backend.js';
import {ReferenceBackend} from '../../../src/core/backends/reference/reference-backend.js';
import type {WebGpuBackend, WebGpuBackendOptions} from '../../../src/core/backends/webgpu/webgpu-backend.js';
import {quantize, type QuantBits} from '../../../src/core/hire/quant.js';
import {expectClose, randomArray, randomMatrix, rng} from './tfjs/helpers.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';

afterAll(disposeWebGpu);

const VARIANTS: Array<[string, WebGpuBackendOptions]> = [
  ['adapter kernel shapes', {}],
  ['GPU kernel shapes, 2 KiB chunks', {threadsPerRow: 64, normThreads: 256, maxChunkBytes: 2048, serialTopK: false}],
  ['8 threads per row, serial top-k', {threadsPerRow: 8, normThreads: 8, serialTopK: true}],
];

for (const [variant, opts] of VARIANTS) {
  describe.skipIf(SKIP_WEBGPU)(`webgpu kernels (${variant})`, () => {
    let gpu: WebGpuBackend;
    const ref = new ReferenceBackend();
    const both = <T>(make: (b: Backend) => T): [T, T] => [make(gpu), make(ref)];
    const vecs = (data: Float32Array) => both((b) => b.uploadVector(data));
    const mats = (host: HostMatrix) => both((b) => b.uploadMatrix(host));
    const readBoth = async (p: [Vec, Vec]): Promise<[Float32Array, Float32Array]> => [await gpu.read(p[0]), await ref.read(p[1])];

    it('starts', async () => {
      gpu = await openWebGpu(opts);
      expect(gpu.describe()).toMatch(/^webgpu \(/);
    });

    it('copies vectors on upload, write and read; new vectors are zero', async () => {
      const host = Float32Array.from([1, 2, 3]);
      const x = gpu.uploadVector(host);
      host[0] = 99;
      expect(Array.from(await gpu.read(x))).toEqual([1, 2, 3]);
      gpu.write(x, host);
      host[1] = 77;
      expect(Array.from(await gpu.read(x))).toEqual([99, 2, 3]);
      expect(Array.from(await gpu.read(gpu.createVector(5)))).toEqual([0, 0, 0, 0, 0]);
      expect(() => gpu.write(x, new Float32Array(2))).toThrow(/2 values into a vector of 3/);
      expect((await gpu.read(gpu.createVector(0))).length).toBe(0);
    });

    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      for (const [rows, cols] of [
        [1, 1],
        [37, 53],
        [130, 300],
      ] as const) {
        it(`matvec ${dtype} [${rows}, ${cols}], with and without bias`, async () => {
          const random = rng(rows * 1000 + cols);
          const host = randomMatrix(dtype, rows, cols, random);
          const w = mats(host);
          expect([w[0].dtype, w[0].bytes]).toEqual([dtype, w[1].bytes]);
          const x = vecs(randomArray(cols, random));
          const bias = vecs(randomArray(rows, random));
          const out = both((b) => b.createVector(rows));
          gpu.matvec(w[0], x[0], out[0]);
          ref.matvec(w[1], x[1], out[1]);
          expectClose(...(await readBoth(out)), 1e-5);
          gpu.matvec(w[0], x[0], out[0], bias[0]);
          ref.matvec(w[1], x[1], out[1], bias[1]);
          expectClose(...(await readBoth(out)), 1e-5);
        });
      }
    }

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

    it('matvecRows: unsorted rows with repeats, an empty list, and a bad row', async () => {
      const random = rng(7);
      const [rows, cols] = [300, 129];
      const w = mats(randomMatrix('bf16', rows, cols, random));
      const x = vecs(randomArray(cols, random));
      const pick = Int32Array.from([299, 0, 17, 17, 150, 3, 298, 1]);
      const out = both((b) => b.createVector(pick.length));
      gpu.matvecRows(w[0], pick, x[0], out[0]);
      ref.matvecRows(w[1], pick, x[1], out[1]);
      expectClose(...(await readBoth(out)), 1e-5);
      const empty = gpu.createVector(0);
      gpu.matvecRows(w[0], new Int32Array(0), x[0], empty);
      expect((await gpu.read(empty)).length).toBe(0);
      expect(() => gpu.matvecRows(w[0], Int32Array.from([rows]), x[0], gpu.createVector(1))).toThrow(RangeError);
    });

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

    it('embedRow copies one row exactly (f32, f16, bf16)', async () => {
      const random = rng(9);
      for (const dtype of ['f32', 'f16', 'bf16'] as const) {
        const w = mats(randomMatrix(dtype, 50, 23, random));
        const out = both((b) => b.createVector(23));
        for (const row of [0, 31, 49]) {
          gpu.embedRow(w[0], row, out[0]);
          ref.embedRow(w[1], row, out[1]);
          const [got, want] = await readBoth(out);
          expect(Array.from(got)).toEqual(Array.from(want));
        }
      }
    });

    const n = 777;
    it('add and mul, including out aliasing an input', async () => {
      const random = rng(11);
      const a = vecs(randomArray(n, random));
      const c = vecs(randomArray(n, random));
      const out = both((b) => b.createVector(n));
      for (const [be, i] of [
        [gpu, 0],
        [ref, 1],
      ] as const) {
        be.add(a[i], c[i], out[i]);
        be.mul(out[i], c[i], out[i]);
        be.add(a[i], out[i], a[i]);
      }
      expectClose(...(await readBoth(out)), 1e-6);
      expectClose(...(await readBoth(a)), 1e-6);
    });

    it('rmsNorm and layerNorm, in place and out of place', async () => {
      const random = rng(12);
      const x = vecs(randomArray(n, random, 3));
      const w = vecs(randomArray(n, random));
      const bias = vecs(randomArray(n, random));
      const out = both((b) => b.createVector(n));
      gpu.rmsNorm(x[0], w[0], 1e-5, out[0]);
      ref.rmsNorm(x[1], w[1], 1e-5, out[1]);
      expectClose(...(await readBoth(out)), 1e-5, 1e-6);
      gpu.layerNorm(x[0], w[0], bias[0], 1e-5, x[0]);
      ref.layerNorm(x[1], w[1], bias[1], 1e-5, x[1]);
      expectClose(...(await readBoth(x)), 1e-5, 1e-6);
    });

    for (const kind of ['silu', 'relu', 'gelu', 'gelu_tanh'] as Activation[]) {
      it(`activation ${kind}, out of place and in place`, async () => {
        const random = rng(13);
        const x = vecs(Float32Array.from([...randomArray(n, random, 6), 30, -30, 100, -100]));
        const out = both((b) => b.createVector(n + 4));
        gpu.activation(kind, x[0], out[0]);
        ref.activation(kind, x[1], out[1]);
        expectClose(...(await readBoth(out)), 1e-5, 1e-6);
        gpu.activation(kind, x[0], x[0]);
        expectClose(await gpu.read(x[0]), await ref.read(out[1]), 1e-5, 1e-6);
      });
    }

    it('rope at several positions (rotate_half layout)', async () => {
      const random = rng(14);
      const headDim = 16;
      const invFreq = Float64Array.from({length: headDim / 2}, (_, i) => Math.fround(1 / 10000 ** ((2 * i) / headDim)));
      const table = {headDim, invFreq};
      for (const [nHeads, pos] of [
        [4, 0],
        [4, 1],
        [2, 1],
        [3, 517],
      ] as const) {
        const x = vecs(randomArray(nHeads * headDim, random));
        gpu.rope(x[0], nHeads, pos, table);
        ref.rope(x[1], nHeads, pos, table);
        expectClose(...(await readBoth(x)), 1e-5, 1e-6);
      }
    });

    for (const [nHeads, nKvHeads, headDim] of [
      [8, 2, 16],
      [3, 3, 6],
    ] as const) {
      it(`attention nHeads ${nHeads}, nKvHeads ${nKvHeads}, headDim ${headDim}: 30 causal steps on 2 layers`, async () => {
        const random = rng(nHeads * 100 + nKvHeads);
        const shape = {nHeads, nKvHeads, headDim};
        const caches = both((b) => b.createKvCache({nLayers: 2, nKvHeads, headDim, maxSeqLen: 30}));
        const out = both((b) => b.createVector(nHeads * headDim));
        for (let pos = 0; pos < 30; pos++) {
          for (let layer = 0; layer < 2; layer++) {
            const q = vecs(randomArray(nHeads * headDim, random, 2));
            const k = vecs(randomArray(nKvHeads * headDim, random, 2));
            const v = vecs(randomArray(nKvHeads * headDim, random));
            gpu.attention(q[0], k[0], v[0], caches[0], layer, pos, shape, out[0]);
            ref.attention(q[1], k[1], v[1], caches[1], layer, pos, shape, out[1]);
            expectClose(...(await readBoth(out)), 1e-5, 1e-6);
          }
        }
        const q = gpu.createVector(nHeads * headDim);
        const k = gpu.createVector(nKvHeads * headDim);
        expect(() => gpu.attention(q, k, k, caches[0], 0, 30, shape, out[0])).toThrow(/position 30 outside the cache/);
      });
    }

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
