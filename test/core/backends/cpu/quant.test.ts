import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {BackendError} from '../../../../src/core/errors.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {dequantize, quantize, quantRowBytes} from '../../../../src/core/hire/quant.js';
import {expectClose, put, randomF32, refRow, rng} from './helpers.js';

/** [rows, cols, groupSize]: per-row groups, odd sizes, tails inside groups. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 3, 3],
  [5, 8, 2],
  [67, 67, 67],
  [5, 288, 32],
  [67, 288, 96],
  [3, 288, 288],
  [5, 1000, 40],
  [3, 1000, 8],
  [1, 1000, 1000],
];

describe('packing shared with src/core/hire/quant.ts', () => {
  it('int4 puts column 2j in the low nibble and 2j+1 in the high nibble, as the kernel reads it', () => {
    // One group per row, maxabs 7 -> scale 1: the values are stored as they are.
    const w = Float32Array.from([1, -2, 7, -7, 0, 3, -1]);
    const q = quantize(w, 1, 7, 4, 7);
    expect(q.scales[0]).toBe(1);
    expect(q.data.length).toBe(quantRowBytes(4, 7));
    expect(Array.from(q.data)).toEqual([0xe1, 0x97, 0x30, 0x0f]);
  });

  it('the kernels reject group sizes that do not divide cols', async () => {
    const k = await CpuKernels.create({threads: 1});
    try {
      const [w, s, x, y] = [k.alloc(64), k.alloc(64), k.alloc(64), k.alloc(64)];
      expect(() => k.matvecQ8(w, s, 1, 6, 4, x, y)).toThrow(BackendError);
      expect(() => k.matvecQ4(w, s, 1, 6, 3, x, y)).toThrow(BackendError);
    } finally {
      k.dispose();
    }
  });
});

describe('quantized kernels', () => {
  let k: CpuKernels;
  beforeAll(async () => {
    k = await CpuKernels.create({threads: 2, minParallelBytes: 0});
  });
  afterAll(() => k.dispose());

  for (const bits of [8, 4] as const) {
    it(`matvecQ${bits} equals dequantize-then-matvec`, () => {
      const rand = rng(22 + bits);
      for (const [rows, cols, gs] of SHAPES) {
        if (bits === 4 && gs % 2 !== 0 && gs !== cols) continue;
        const mark = k.mark();
        const w = randomF32(rows * cols, rand);
        const x = randomF32(cols, rand);
        const q = quantize(w, rows, cols, bits, gs);
        const deq = dequantize(q);
        const wp = put(k, q.data);
        const sp = put(k, q.scales);
        const xp = put(k, x);
        const yp = k.alloc(rows * 4);
        if (bits === 8) k.matvecQ8(wp, sp, rows, cols, gs, xp, yp);
        else k.matvecQ4(wp, sp, rows, cols, gs, xp, yp);
        const y = k.f32(yp, rows);
        const ref = Float64Array.from(deq);
        for (let r = 0; r < rows; r++) expectClose(y[r]!, refRow(ref, cols, r, x), `q${bits} [${rows},${cols}] gs ${gs} row ${r}`);
        k.reset(mark);
      }
    });
  }
});
