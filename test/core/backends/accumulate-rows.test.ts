/**
 * accumulateRows (out = sum_i coef[i] * W[rows[i]] + bias), the second half of the sparse FFN:
 * every backend against a float64 sum written here, for each weight dtype, listed and all rows,
 * column counts that exercise the 4-wide SIMD body and its tail, and a column split over threads.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Backend, HostMatrix, WeightDtype} from '../../../src/core/backends/backend.js';
import {CpuBackend} from '../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../src/core/backends/cpu/kernels.js';
import {createBackend} from '../../../src/core/backends/index.js';
import {halfToFloat32} from '../../../src/core/model/formats/safetensors/index.js';
import {randomBf16, randomF16, randomF32} from './cpu/helpers.js';
import {rng} from '../../helpers/random.js';

const backends: Record<string, Backend> = {};
beforeAll(async () => {
  backends.reference = await createBackend('reference');
  backends.tfjs = await createBackend('tfjs');
  backends['cpu 1 thread'] = new CpuBackend(await CpuKernels.create({threads: 1}));
  backends['cpu 2 threads'] = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
});
afterAll(() => Object.values(backends).forEach((b) => b.dispose()));

function hostMatrix(dtype: WeightDtype, rows: number, cols: number, rand: () => number): {m: HostMatrix; f: Float32Array} {
  if (dtype === 'f32') {
    const data = randomF32(rows * cols, rand);
    return {m: {dtype, rows, cols, data}, f: data};
  }
  const data = dtype === 'bf16' ? randomBf16(rows * cols, rand) : randomF16(rows * cols, rand);
  return {m: {dtype, rows, cols, data}, f: halfToFloat32(dtype === 'bf16' ? 'BF16' : 'F16', data)};
}

function expected(f: Float32Array, cols: number, rows: Int32Array | null, coef: Float32Array, bias?: Float32Array): Float64Array {
  const out = new Float64Array(cols);
  if (bias) for (let c = 0; c < cols; c++) out[c] = bias[c]!;
  for (let i = 0; i < coef.length; i++) {
    const r = rows ? rows[i]! : i;
    for (let c = 0; c < cols; c++) out[c] = out[c]! + coef[i]! * f[r * cols + c]!;
  }
  return out;
}

describe('accumulateRows', () => {
  for (const name of ['reference', 'tfjs', 'cpu 1 thread', 'cpu 2 threads']) {
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      it(`${name}, ${dtype}: listed rows, all rows, with and without bias`, async () => {
        const b = backends[name]!;
        const rand = rng(dtype.length * 7 + name.length);
        const nRows = 41;
        for (const cols of [1, 3, 4, 17, 64, 130]) {
          const {m, f} = hostMatrix(dtype, nRows, cols, rand);
          const w = b.uploadMatrix(m);
          const lists: (Int32Array | null)[] = [
            null,
            Int32Array.from([0]),
            Int32Array.from([40, 3, 3, 17, 8, 9, 10, 11, 0]), // any order, repeats, 4-row passes + tail
            Int32Array.from({length: 23}, (_, i) => (i * 7) % nRows),
            new Int32Array(0),
          ];
          for (const rows of lists) {
            const n = rows ? rows.length : nRows;
            const coef = randomF32(n, rand);
            if (n > 2) coef[1] = 0; // a zero coefficient contributes nothing
            const bias = randomF32(cols, rand);
            for (const withBias of [false, true]) {
              const out = b.createVector(cols);
              b.write(out, new Float32Array(cols).fill(123)); // stale contents must be overwritten
              const cv = b.uploadVector(coef);
              const bv = withBias ? b.uploadVector(bias) : undefined;
              b.accumulateRows(w, rows, cv, out, bv);
              const got = await b.read(out);
              const want = expected(f, cols, rows, coef, withBias ? bias : undefined);
              const scale = Math.max(1, ...Array.from(want, Math.abs));
              for (let c = 0; c < cols; c++) expect(Math.abs(got[c]! - want[c]!) / scale).toBeLessThan(1e-5);
            }
          }
        }
      });
    }
  }

  it('cpu rejects a row id outside the matrix', () => {
    const b = backends['cpu 1 thread']!;
    const w = b.uploadMatrix({dtype: 'f32', rows: 4, cols: 8, data: new Float32Array(32)});
    expect(() => b.accumulateRows(w, Int32Array.from([1, 4]), b.createVector(2), b.createVector(8))).toThrow(/row ids must lie in \[0, 4\), got 4/);
  });
});
