/**
 * The tfjs backend (wasm engine): its engine and memory, the kernels every backend shares against
 * the reference backend (test/helpers/kernel-parity.ts, which states the tolerances), and no
 * tensor left behind by any kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createTfjsBackend, type TfjsBackend} from '../../../../src/core/backends/tfjs/tfjs-backend.js';
import {kernelParitySuite} from '../../../helpers/kernel-parity.js';
import {randomArray, randomMatrix, rng} from './helpers.js';

let tfb: TfjsBackend;
const warnings: string[] = [];

/** Process-wide error handlers before tfjs-wasm started (Emscripten adds its own). */
let handlersBefore = 0;

beforeAll(async () => {
  handlersBefore = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
  tfb = await createTfjsBackend({onWarning: (msg) => warnings.push(msg)});
});
afterAll(() => tfb?.dispose());

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
  it('reports f32 bytes for every weight dtype (tfjs holds f32)', () => {
    const random = rng(1);
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      const w = tfb.uploadMatrix(randomMatrix(dtype, 6, 10, random));
      expect([w.rows, w.cols, w.dtype, w.bytes]).toEqual([6, 10, 'f32', 240]);
    }
  });
});

kernelParitySuite('tfjs backend', () => tfb, {
  matvecShapes: [
    [1, 1],
    [37, 53],
    [256, 1000],
  ],
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
