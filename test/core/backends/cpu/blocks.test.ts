/**
 * The cpu backend's ggml block kernels (q8_0, q4_0) against the reference backend, on one thread
 * and on two (every call split over both threads), plus what only the cpu backend promises:
 * batched results equal unbatched ones bit for bit, and results do not depend on the thread count.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import type {Backend} from '../../../../src/core/backends/backend.js';
import {blockParitySuite, randomBlockMatrix} from '../../../helpers/block-parity.js';
import {randomArray, rng} from '../tfjs/helpers.js';
import {halfValue} from '../../../../src/core/numeric/ggml-quant.js';

let one: CpuBackend;
let two: CpuBackend;
let int16: CpuBackend;
beforeAll(async () => {
  one = new CpuBackend(await CpuKernels.create({threads: 1}));
  two = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
  int16 = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}), 'int16');
});
afterAll(() => {
  one.dispose();
  two.dispose();
  int16.dispose();
});

blockParitySuite('cpu 1 thread', () => one);
blockParitySuite('cpu 2 threads', () => two);
// random activations have no outliers, so the int16 rounding stays well inside the tolerance here
blockParitySuite('cpu 2 threads, int16 activations', () => int16);

describe('cpu block kernels: exact agreements', () => {
  for (const [format, tiny] of [['q8_0', false], ['q4_0', false], ['q8_0', true], ['q4_0', true]] as const) {
    it(`${format}: a weighted sum of rows adds row after row in f32, four rows at a time or one (the documented order)${tiny ? ', subnormal, zero and negative-zero scales' : ''}`, async () => {
      const random = rng(11);
      const [rows, cols] = [11, 96]; // two groups of four rows, then three single rows
      const host = randomBlockMatrix(format, rows, cols, random);
      if (tiny) {
        // the scales the kernels widen without denormal arithmetic: subnormal halves of either sign, 0 and -0
        const dv = new DataView(host.data.buffer, host.data.byteOffset);
        const bb = format === 'q8_0' ? 34 : 18;
        for (let b = 0; b < rows * (cols / 32); b++) dv.setUint16(b * bb, b === 5 ? 0 : b === 6 ? 0x8000 : (b % 2 ? 0x8000 : 0) | (1 + ((b * 131) % 1023)), true);
      }
      const coef = randomArray(rows, random);
      const y = one.createVector(cols);
      one.accumulateRows(one.uploadMatrix(host), null, one.uploadVector(coef), y);
      const got = await one.read(y);
      // emulate: y[c] = fround(y[c] + fround(fround(coef * d) * q)) for rows in order
      const nb = cols / 32;
      const bb = format === 'q8_0' ? 34 : 18;
      const dv = new DataView(host.data.buffer, host.data.byteOffset, host.data.byteLength);
      const want = new Float32Array(cols);
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < nb; k++) {
          const p = (r * nb + k) * bb;
          const s = Math.fround(coef[r]! * halfValue(dv.getUint16(p, true)));
          for (let j = 0; j < 32; j++) {
            const q = format === 'q8_0' ? dv.getInt8(p + 2 + j) : j < 16 ? (dv.getUint8(p + 2 + j) & 15) - 8 : (dv.getUint8(p + 2 + j - 16) >> 4) - 8;
            want[k * 32 + j] = Math.fround(want[k * 32 + j]! + Math.fround(s * q));
          }
        }
      }
      expect(Array.from(got)).toEqual(Array.from(want));
    });
  }

  for (const format of ['q8_0', 'q4_0'] as const) {
    it(`${format}: batched matvec equals matvec bit for bit, and 1 and 2 threads agree`, async () => {
      const random = rng(3);
      const host = randomBlockMatrix(format, 200, 320, random);
      const xs = Array.from({length: 5}, () => randomArray(320, random));
      const run = async (b: Backend, batched: boolean) => {
        const w = b.uploadMatrix(host);
        const xv = xs.map((x) => b.uploadVector(x));
        const ys = xv.map(() => b.createVector(200));
        if (batched) b.matvecBatch(w, xv, ys);
        else xv.forEach((x, i) => b.matvec(w, x, ys[i]!));
        return Promise.all(ys.map((y) => b.read(y)));
      };
      const single = await run(one, false);
      expect(await run(one, true)).toEqual(single);
      expect(await run(two, false)).toEqual(single);
      expect(await run(two, true)).toEqual(single);
      const rounded = await run(int16, false);
      expect(await run(int16, true)).toEqual(rounded);
      expect(rounded).not.toEqual(single);
    });
  }

  it('int16 activations: rounded to 16 bits per block of 32 columns, so one outlier costs its block precision', async () => {
    // x = [1000, 1, 1, ...]: dx = 1000/32767, so each 1 is held as 33 dx = 1.00711 (0.7% off)
    const host = randomBlockMatrix('q8_0', 1, 32, rng(9));
    const w = host.data.slice();
    w.fill(0, 2);
    w[0] = 0x00; // d = 1 (half 0x3c00)
    w[1] = 0x3c;
    w[3] = 1; // weight 1 on column 1 only
    const m = {...host, data: w};
    const x = new Float32Array(32).fill(1);
    x[0] = 1000;
    const read = async (b: Backend) => {
      const y = b.createVector(1);
      b.matvec(b.uploadMatrix(m), b.uploadVector(x), y);
      return (await b.read(y))[0]!;
    };
    expect(await read(one)).toBe(1);
    expect(await read(int16)).toBeCloseTo(33 * (1000 / 32767), 5);
  });

  it('reports the block bytes and shares reads across a batch', () => {
    const w = one.uploadMatrix(randomBlockMatrix('q4_0', 3, 64, rng(1)));
    expect(w.bytes).toBe(3 * 2 * 18);
    expect(one.supports('sharedBatch', 'q4_0')).toBe(true);
    expect(() => one.uploadMatrix({dtype: 'q8_0', rows: 1, cols: 40, data: new Uint8Array(43)})).toThrow(/multiple of 32 columns/);
  });
});

