import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {BackendError} from '../../../../src/core/errors.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {
  dequantizeQ4,
  dequantizeQ8,
  q4RowBytes,
  quantizeQ4,
  quantizeQ8,
} from '../../../../src/core/backends/cpu/quant.js';
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

describe('quantization helpers', () => {
  it('q8 round trip is within half a step per weight', () => {
    const rand = rng(21);
    const [rows, cols, gs] = [7, 96, 32];
    const w = randomF32(rows * cols, rand);
    const q = quantizeQ8(w, rows, cols, gs);
    const d = dequantizeQ8(q.data, q.scales, rows, cols, gs);
    for (let i = 0; i < w.length; i++) {
      expect(Math.abs(d[i]! - w[i]!)).toBeLessThanOrEqual(q.scales[Math.floor(i / gs)]! / 2 + 1e-7);
      expect(Math.abs(q.data[i]!)).toBeLessThanOrEqual(127);
    }
  });

  it('q4 packs column 2j in the low nibble and 2j+1 in the high nibble', () => {
    // One group per row, maxabs 7 -> scale 1: the values are stored as they are.
    const w = Float32Array.from([1, -2, 7, -7, 0, 3, -1]);
    const q = quantizeQ4(w, 1, 7, 7);
    expect(q.scales[0]).toBe(1);
    expect(q.data.length).toBe(q4RowBytes(7));
    expect(Array.from(q.data)).toEqual([0xe1, 0x97, 0x30, 0x0f]);
    expect(Array.from(dequantizeQ4(q.data, q.scales, 1, 7, 7))).toEqual(Array.from(w));
  });

  it('an all-zero group gets scale 0 and zero values', () => {
    const q = quantizeQ8(new Float32Array(8), 1, 8, 4);
    expect(Array.from(q.scales)).toEqual([0, 0]);
    expect(Array.from(q.data)).toEqual(new Array(8).fill(0));
  });

  it('rejects group sizes that do not divide cols, or odd int4 groups', () => {
    expect(() => quantizeQ8(new Float32Array(6), 1, 6, 4)).toThrow(BackendError);
    expect(() => quantizeQ4(new Float32Array(6), 1, 6, 3)).toThrow(BackendError);
    expect(() => quantizeQ4(new Float32Array(5), 1, 5, 5)).not.toThrow();
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
        const q = bits === 8 ? quantizeQ8(w, rows, cols, gs) : quantizeQ4(w, rows, cols, gs);
        const deq = bits === 8
          ? dequantizeQ8(q.data as Int8Array, q.scales, rows, cols, gs)
          : dequantizeQ4(q.data as Uint8Array, q.scales, rows, cols, gs);
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
