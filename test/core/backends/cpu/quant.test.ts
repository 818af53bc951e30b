import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {BackendError} from '../../../../src/core/errors.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {dequantize, quantize, quantRowBytes} from '../../../../src/core/numeric/quant.js';
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
  // the kernels' chunked paths: 32/16-column passes (int4), 16/8 (int8), and the scalar tails
  [7, 256, 64],
  [3, 96, 48],
  [4, 40, 40],
  [3, 24, 24],
  [5, 64, 16],
  [3, 37, 37],
  [2, 2048, 2048],
  [9, 120, 24],
];

describe('packing shared with src/core/numeric/quant.ts', () => {
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

/** Float64 reference straight from the packed bytes (every code, including -128 and -8). */
function refPacked(bits: 8 | 4, data: Uint8Array, scales: Float32Array, cols: number, gs: number, r: number, x: Float32Array) {
  const rowBytes = quantRowBytes(bits, cols);
  const ng = cols / gs;
  let y = 0;
  let mag = 0;
  for (let c = 0; c < cols; c++) {
    let q: number;
    if (bits === 8) q = (data[r * cols + c]! << 24) >> 24;
    else q = (((data[r * rowBytes + (c >> 1)]! >> ((c & 1) * 4)) & 15) ^ 8) - 8;
    const p = q * scales[r * ng + Math.floor(c / gs)]! * x[c]!;
    y += p;
    mag += Math.abs(p);
  }
  return {y, mag};
}

describe('quantized kernels on raw codes', () => {
  let k: CpuKernels;
  beforeAll(async () => {
    k = await CpuKernels.create({threads: 2, minParallelBytes: 0});
  });
  afterAll(() => k.dispose());

  for (const bits of [8, 4] as const) {
    it(`matvecQ${bits} decodes every code (two's complement minimum included) and any x alignment`, () => {
      const rand = rng(90 + bits);
      for (const [rows, cols, gs] of [[6, 64, 64], [5, 288, 96], [4, 50, 10], [3, 33, 33]] as const) {
        if (bits === 4 && gs % 2 !== 0 && gs !== cols) continue;
        const mark = k.mark();
        const rowBytes = quantRowBytes(bits, cols);
        const data = new Uint8Array(rows * rowBytes);
        for (let i = 0; i < data.length; i++) data[i] = i < 256 ? i : Math.floor(rand() * 256);
        if (bits === 4 && cols % 2 === 1) for (let r = 0; r < rows; r++) data[r * rowBytes + rowBytes - 1]! &= 0x0f;
        const scales = Float32Array.from({length: (rows * cols) / gs}, () => 0.01 + rand());
        const x = randomF32(cols, rand);
        const wp = put(k, data);
        const sp = put(k, scales);
        for (const shift of [0, 4, 2, 1]) {
          // x at an address that is 64-byte aligned plus `shift` bytes
          const xp = k.alloc(cols * 4 + 64) + shift;
          k.u8(xp, cols * 4).set(new Uint8Array(x.buffer));
          const yp = k.alloc(rows * 4);
          if (bits === 8) k.matvecQ8(wp, sp, rows, cols, gs, xp, yp);
          else k.matvecQ4(wp, sp, rows, cols, gs, xp, yp);
          const y = k.f32(yp, rows);
          for (let r = 0; r < rows; r++) {
            expectClose(y[r]!, refPacked(bits, data, scales, cols, gs, r, x), `q${bits} raw [${rows},${cols}] gs ${gs} row ${r} shift ${shift}`);
          }
        }
        k.reset(mark);
      }
    });
  }

  it('matvecQ4 / matvecQ8 leave the arena as they found it and keep x unchanged', () => {
    const mark = k.mark();
    const [rows, cols, gs] = [4, 64, 32];
    const q = quantize(randomF32(rows * cols, rng(5)), rows, cols, 4, gs);
    const q8 = quantize(randomF32(rows * cols, rng(6)), rows, cols, 8, gs);
    const x = randomF32(cols, rng(7));
    const [wp, sp, w8, s8, xp] = [put(k, q.data), put(k, q.scales), put(k, q8.data), put(k, q8.scales), put(k, x)];
    const yp = k.alloc(rows * 4);
    const before = k.bytes;
    k.matvecQ4(wp, sp, rows, cols, gs, xp, yp);
    k.matvecQ8(w8, s8, rows, cols, gs, xp, yp);
    expect(k.bytes).toBe(before);
    expect(Array.from(k.f32(xp, cols))).toEqual(Array.from(x));
    k.reset(mark);
  });
});

describe('batched quantized kernels', () => {
  for (const threads of [1, 2]) {
    for (const bits of [8, 4] as const) {
      it(`matvecQBatch(${bits}) gives every vector matvecQ${bits}'s bits (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
        const k = await CpuKernels.create({threads, minParallelBytes: 0});
        try {
          const rand = rng(140 + bits + threads);
          // rows past one 16-row block and not a multiple of it; per-row groups with tails
          for (const [rows, cols, gs] of [[37, 96, 32], [53, 120, 24], [17, 1000, 40], [1, 64, 64]] as const) {
            const mark = k.mark();
            const q = quantize(randomF32(rows * cols, rand), rows, cols, bits, gs);
            const wp = put(k, q.data);
            const sp = put(k, q.scales);
            for (const nv of [1, 2, 5]) {
              const xs = randomF32(nv * cols, rand);
              const xp = put(k, xs);
              const yp = k.alloc(nv * rows * 4);
              k.matvecQBatch(bits, wp, sp, rows, cols, gs, xp, yp, nv);
              const batched = Array.from(k.f32(yp, nv * rows));
              for (let v = 0; v < nv; v++) {
                const one = k.alloc(rows * 4);
                if (bits === 8) k.matvecQ8(wp, sp, rows, cols, gs, xp + v * cols * 4, one);
                else k.matvecQ4(wp, sp, rows, cols, gs, xp + v * cols * 4, one);
                expect(batched.slice(v * rows, (v + 1) * rows), `[${rows},${cols}] gs ${gs} nv ${nv} vector ${v}`).toEqual(Array.from(k.f32(one, rows)));
              }
            }
            k.reset(mark);
          }
          expect(() => k.matvecQBatch(bits, 0, 0, 2, 64, 64, 0, 0, 0)).toThrow(/nv must be a positive integer/);
        } finally {
          k.dispose();
        }
      });
    }
  }
});
