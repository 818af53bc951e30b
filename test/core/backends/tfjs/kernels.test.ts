/**
 * Every kernel of the tfjs backend (wasm engine) against the reference backend on random data.
 * Tolerances: matvec and matvecRows 1e-5 of the largest output (f32 accumulation over up to 1000
 * terms against float64); norms, RoPE, attention and activations 1e-5 relative plus 1e-6
 * absolute; copies (embedRow, write/read) exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Activation} from '../../../../src/core/model/config.js';
import type {Backend, HostMatrix, Mat, Vec} from '../../../../src/core/backends/backend.js';
import {ReferenceBackend} from '../../../../src/core/backends/reference/reference-backend.js';
import {createTfjsBackend, type TfjsBackend} from '../../../../src/core/backends/tfjs/tfjs-backend.js';
import {expectClose, randomArray, randomMatrix, rng} from './helpers.js';

let tfb: TfjsBackend;
const ref = new ReferenceBackend();
const warnings: string[] = [];

/** Process-wide error handlers before tfjs-wasm started (Emscripten adds its own). */
let handlersBefore = 0;

beforeAll(async () => {
  handlersBefore = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
  tfb = await createTfjsBackend({onWarning: (msg) => warnings.push(msg)});
});
afterAll(() => tfb?.dispose());

/** Creates the same thing on both backends: [tfjs, reference]. */
function both<T>(make: (b: Backend) => T): [T, T] {
  return [make(tfb), make(ref)];
}
const vecs = (data: Float32Array): [Vec, Vec] => both((b) => b.uploadVector(data));
const mats = (host: HostMatrix): [Mat, Mat] => both((b) => b.uploadMatrix(host));
async function readBoth(pair: [Vec, Vec]): Promise<[Float32Array, Float32Array]> {
  return [await tfb.read(pair[0]), await ref.read(pair[1])];
}

describe('tfjs backend: engine', () => {
  it('runs on the wasm engine with SIMD, with no warning', () => {
    expect(warnings).toEqual([]);
    expect(tfb.engineName).toBe('wasm');
    expect(tfb.describe()).toMatch(/^tfjs \(wasm simd/);
    expect(tfb.supports('matvec', 'bf16')).toBe(true);
  });

  it("leaves the process's error handlers as they were", () => {
    expect(process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection')).toBe(handlersBefore);
  });

  it('refuses the cpu engine while a wasm backend is alive, and shares wasm', async () => {
    await expect(createTfjsBackend({prefer: 'cpu'})).rejects.toThrow(/wasm engine is already in use/);
    const second = await createTfjsBackend();
    expect(second.describe()).toBe(tfb.describe());
    second.dispose();
  });
});

describe('tfjs backend: memory', () => {
  it('copies vectors on upload, write and read', async () => {
    const host = Float32Array.from([1, 2, 3]);
    const v = tfb.uploadVector(host);
    host[0] = 99;
    expect(Array.from(await tfb.read(v))).toEqual([1, 2, 3]);
    tfb.write(v, host);
    host[1] = 77;
    const got = await tfb.read(v);
    expect(Array.from(got)).toEqual([99, 2, 3]);
    got[2] = -1;
    expect(Array.from(await tfb.read(v))).toEqual([99, 2, 3]);
    expect(Array.from(await tfb.read(tfb.createVector(4)))).toEqual([0, 0, 0, 0]);
    expect(() => tfb.write(v, new Float32Array(2))).toThrow(/2 values into a vector of 3/);
  });

  it('reports f32 bytes for every weight dtype (tfjs holds f32)', () => {
    const random = rng(1);
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const w = tfb.uploadMatrix(randomMatrix(dtype, 6, 10, random));
      expect([w.rows, w.cols, w.dtype, w.bytes]).toEqual([6, 10, 'f32', 240]);
    }
  });
});

describe('tfjs backend: matrix kernels', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [37, 53],
    [256, 1000],
  ];
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    for (const [rows, cols] of shapes) {
      it(`matvec ${dtype} [${rows}, ${cols}], with and without bias`, async () => {
        const random = rng(rows * 1000 + cols);
        const host: HostMatrix = randomMatrix(dtype, rows, cols, random);
        const w = mats(host);
        const xData = randomArray(cols, random);
        const x = vecs(xData);
        const bias = vecs(randomArray(rows, random));
        const out = both((b) => b.createVector(rows));
        tfb.matvec(w[0], x[0], out[0]);
        ref.matvec(w[1], x[1], out[1]);
        expectClose(...(await readBoth(out)), 1e-5);
        tfb.matvec(w[0], x[0], out[0], bias[0]);
        ref.matvec(w[1], x[1], out[1], bias[1]);
        expectClose(...(await readBoth(out)), 1e-5);
      });
    }
  }

  it('matvecRows: unsorted rows with repeats, then an empty list', async () => {
    const random = rng(7);
    const [rows, cols] = [300, 129];
    const w = mats(randomMatrix('bf16', rows, cols, random));
    const x = vecs(randomArray(cols, random));
    const pick = Int32Array.from([299, 0, 17, 17, 150, 3, 298, 1]);
    const out = both((b) => b.createVector(pick.length));
    tfb.matvecRows(w[0], pick, x[0], out[0]);
    ref.matvecRows(w[1], pick, x[1], out[1]);
    expectClose(...(await readBoth(out)), 1e-5);
    // The same rows again (host copy already made) match the dense result at those rows.
    const dense = tfb.createVector(rows);
    tfb.matvec(w[0], x[0], dense);
    const full = await tfb.read(dense);
    tfb.matvecRows(w[0], pick, x[0], out[0]);
    expectClose(await tfb.read(out[0]), Array.from(pick, (r) => full[r]!), 1e-6);
    const empty = tfb.createVector(0);
    tfb.matvecRows(w[0], new Int32Array(0), x[0], empty);
    expect((await tfb.read(empty)).length).toBe(0);
    expect(() => tfb.matvecRows(w[0], Int32Array.from([rows]), x[0], tfb.createVector(1))).toThrow(RangeError);
  });

  it('embedRow copies one row exactly (f32 and f16)', async () => {
    const random = rng(9);
    for (const dtype of ['f32', 'f16'] as const) {
      const w = mats(randomMatrix(dtype, 50, 24, random));
      const out = both((b) => b.createVector(24));
      for (const row of [0, 31, 49]) {
        tfb.embedRow(w[0], row, out[0]);
        ref.embedRow(w[1], row, out[1]);
        const [got, want] = await readBoth(out);
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    }
  });
});

describe('tfjs backend: vector kernels', () => {
  const n = 777;
  it('add and mul, including out aliasing an input', async () => {
    const random = rng(11);
    const a = vecs(randomArray(n, random));
    const c = vecs(randomArray(n, random));
    const out = both((b) => b.createVector(n));
    for (const [be, i] of [
      [tfb, 0],
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
    tfb.rmsNorm(x[0], w[0], 1e-5, out[0]);
    ref.rmsNorm(x[1], w[1], 1e-5, out[1]);
    expectClose(...(await readBoth(out)), 1e-5, 1e-6);
    tfb.layerNorm(x[0], w[0], bias[0], 1e-5, x[0]);
    ref.layerNorm(x[1], w[1], bias[1], 1e-5, x[1]);
    expectClose(...(await readBoth(x)), 1e-5, 1e-6);
  });

  for (const kind of ['silu', 'relu', 'gelu', 'gelu_tanh'] as Activation[]) {
    it(`activation ${kind}`, async () => {
      const random = rng(13);
      const x = vecs(randomArray(n, random, 6));
      const out = both((b) => b.createVector(n));
      tfb.activation(kind, x[0], out[0]);
      ref.activation(kind, x[1], out[1]);
      expectClose(...(await readBoth(out)), 1e-5, 1e-6);
      tfb.activation(kind, x[0], x[0]);
      expectClose(await tfb.read(x[0]), await ref.read(out[1]), 1e-5, 1e-6);
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
      [4, 1],
      [3, 517],
    ] as const) {
      const x = vecs(randomArray(nHeads * headDim, random));
      tfb.rope(x[0], nHeads, pos, table);
      ref.rope(x[1], nHeads, pos, table);
      expectClose(...(await readBoth(x)), 1e-5, 1e-6);
    }
  });
});

describe('tfjs backend: attention', () => {
  for (const [nHeads, nKvHeads, headDim] of [
    [8, 2, 16],
    [4, 4, 8],
    [6, 1, 32],
    [3, 3, 6], // headDim not a multiple of the unroll width
  ] as const) {
    it(`attention nHeads ${nHeads}, nKvHeads ${nKvHeads}, headDim ${headDim}: 40 causal steps`, async () => {
      const random = rng(nHeads * 100 + nKvHeads);
      const shape = {nHeads, nKvHeads, headDim};
      const kvShape = {nLayers: 2, nKvHeads, headDim, maxSeqLen: 40};
      const caches = both((b) => b.createKvCache(kvShape));
      const out = both((b) => b.createVector(nHeads * headDim));
      for (let pos = 0; pos < 40; pos++) {
        for (let layer = 0; layer < 2; layer++) {
          const q = vecs(randomArray(nHeads * headDim, random, 2));
          const k = vecs(randomArray(nKvHeads * headDim, random, 2));
          const v = vecs(randomArray(nKvHeads * headDim, random));
          tfb.attention(q[0], k[0], v[0], caches[0], layer, pos, shape, out[0]);
          ref.attention(q[1], k[1], v[1], caches[1], layer, pos, shape, out[1]);
          expectClose(...(await readBoth(out)), 1e-5, 1e-6);
        }
      }
      const q = tfb.createVector(nHeads * headDim);
      const k = tfb.createVector(nKvHeads * headDim);
      expect(() => tfb.attention(q, k, k, caches[0], 0, 40, shape, out[0])).toThrow(/position 40 outside the cache/);
    });
  }
});

describe('tfjs backend: every kernel frees what it replaces', () => {
  it('leaves tf.memory().numTensors unchanged after repeated calls of every kernel', () => {
    const random = rng(31);
    const [rows, cols, nHeads, nKvHeads, headDim] = [40, 32, 4, 2, 8];
    const w = tfb.uploadMatrix(randomMatrix('bf16', rows, cols, random));
    const x = tfb.uploadVector(randomArray(cols, random));
    const weight = tfb.uploadVector(randomArray(cols, random));
    const bias = tfb.uploadVector(randomArray(rows, random));
    const out = tfb.createVector(rows);
    const picked = tfb.createVector(3);
    const h = tfb.createVector(cols);
    const q = tfb.uploadVector(randomArray(nHeads * headDim, random));
    const k = tfb.uploadVector(randomArray(nKvHeads * headDim, random));
    const att = tfb.createVector(nHeads * headDim);
    const cache = tfb.createKvCache({nLayers: 1, nKvHeads, headDim, maxSeqLen: 10});
    const table = {headDim, invFreq: Float64Array.from([1, 0.1, 0.01, 0.001])};
    const step = (pos: number) => {
      tfb.matvec(w, x, out);
      tfb.matvec(w, x, out, bias);
      tfb.matvecRows(w, Int32Array.from([3, 1, 3]), x, picked);
      tfb.embedRow(w, pos, h);
      tfb.add(h, x, h);
      tfb.mul(h, weight, h);
      tfb.rmsNorm(h, weight, 1e-5, h);
      tfb.layerNorm(h, weight, weight, 1e-5, h);
      for (const kind of ['silu', 'relu', 'gelu', 'gelu_tanh'] as const) tfb.activation(kind, h, h);
      tfb.rope(q, nHeads, pos, table);
      tfb.rope(k, nKvHeads, pos, table);
      tfb.attention(q, k, k, cache, 0, pos, {nHeads, nKvHeads, headDim}, att);
      tfb.write(x, randomArray(cols, random));
    };
    step(0);
    const before = tf.memory().numTensors;
    for (let pos = 1; pos < 10; pos++) step(pos);
    expect(tf.memory().numTensors).toBe(before);
  });
});
