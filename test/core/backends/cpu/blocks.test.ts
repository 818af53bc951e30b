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

let one: CpuBackend;
let two: CpuBackend;
beforeAll(async () => {
  one = new CpuBackend(await CpuKernels.create({threads: 1}));
  two = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
});
afterAll(() => {
  one.dispose();
  two.dispose();
});

blockParitySuite('cpu 1 thread', () => one);
blockParitySuite('cpu 2 threads', () => two);

describe('cpu block kernels: exact agreements', () => {
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
    });
  }

  it('reports the block bytes and shares reads across a batch', () => {
    const w = one.uploadMatrix(randomBlockMatrix('q4_0', 3, 64, rng(1)));
    expect(w.bytes).toBe(3 * 2 * 18);
    expect(one.supports('sharedBatch', 'q4_0')).toBe(true);
    expect(() => one.uploadMatrix({dtype: 'q8_0', rows: 1, cols: 40, data: new Uint8Array(43)})).toThrow(/multiple of 32 columns/);
  });
});
