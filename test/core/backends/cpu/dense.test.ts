import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuKernels, type DenseDtype} from '../../../../src/core/backends/cpu/kernels.js';
import {
  expectClose,
  f16ToF32Bits,
  put,
  randomBf16,
  randomF16,
  randomF32,
  refRow,
  rng,
  weightValues,
} from './helpers.js';

const ROWS = [1, 3, 5, 67];
const COLS = [1, 3, 8, 67, 288, 1000];
const DTYPES: DenseDtype[] = ['f32', 'bf16', 'f16'];

function randomWeights(dtype: DenseDtype, n: number, rand: () => number): Float32Array | Uint16Array {
  return dtype === 'f32' ? randomF32(n, rand) : dtype === 'bf16' ? randomBf16(n, rand) : randomF16(n, rand);
}

describe('dense kernels', () => {
  let k: CpuKernels;
  beforeAll(async () => {
    // minParallelBytes 0: even tiny shapes go through the worker split.
    k = await CpuKernels.create({threads: 2, minParallelBytes: 0});
  });
  afterAll(() => k.dispose());

  for (const dtype of DTYPES) {
    it(`matvec ${dtype} matches a float64 reference on awkward shapes`, () => {
      const rand = rng(1);
      for (const rows of ROWS) {
        for (const cols of COLS) {
          const mark = k.mark();
          const w = randomWeights(dtype, rows * cols, rand);
          const x = randomF32(cols, rand);
          const wp = put(k, w);
          const xp = put(k, x);
          const yp = k.alloc(rows * 4);
          k.matvec(dtype, wp, rows, cols, xp, yp);
          const y = k.f32(yp, rows);
          const wv = weightValues(dtype, w);
          for (let r = 0; r < rows; r++) expectClose(y[r]!, refRow(wv, cols, r, x), `${dtype} [${rows},${cols}] row ${r}`);
          k.reset(mark);
        }
      }
    });

    it(`matvec ${dtype} widens weights exactly (one-hot x)`, () => {
      const rand = rng(2);
      const rows = 67;
      const cols = 37;
      const w = randomWeights(dtype, rows * cols, rand);
      const wv = weightValues(dtype, w);
      const mark = k.mark();
      const wp = put(k, w);
      const xp = k.alloc(cols * 4);
      const yp = k.alloc(rows * 4);
      for (const c of [0, 5, 31, 32, 36]) {
        const x = k.f32(xp, cols);
        x.fill(0);
        x[c] = 1;
        k.matvec(dtype, wp, rows, cols, xp, yp);
        const y = k.f32(yp, rows);
        for (let r = 0; r < rows; r++) expect(y[r]).toBe(Math.fround(wv[r * cols + c]!));
      }
      k.reset(mark);
    });

    it(`matvecRows ${dtype}: repeated and out-of-order ids equal matvec bit for bit`, () => {
      const rand = rng(3);
      for (const cols of [3, 67, 288]) {
        const rows = 67;
        const mark = k.mark();
        const w = randomWeights(dtype, rows * cols, rand);
        const x = randomF32(cols, rand);
        const wp = put(k, w);
        const xp = put(k, x);
        const yAll = k.alloc(rows * 4);
        k.matvec(dtype, wp, rows, cols, xp, yAll);
        const ids = Int32Array.from([66, 0, 5, 5, 5, 64, 1, 2, 3, 4, 40, 41, 66, 0, 17, 17, 9, 30, 12]);
        for (const n of [1, 3, 4, 5, ids.length]) {
          const idp = put(k, ids.subarray(0, n));
          const yp = k.alloc(n * 4);
          k.matvecRows(dtype, wp, cols, idp, n, xp, yp, rows);
          const y = k.f32(yp, n);
          const full = k.f32(yAll, rows);
          for (let i = 0; i < n; i++) expect(y[i]).toBe(full[ids[i]!]);
        }
        k.reset(mark);
      }
    });

    it(`matvecBatch ${dtype} equals nb separate matvecs`, () => {
      const rand = rng(4);
      for (const [rows, cols] of [[1, 3], [5, 67], [67, 288], [3, 1000]] as const) {
        for (const nb of [1, 2, 3, 4, 5, 8, 11]) {
          const mark = k.mark();
          const w = randomWeights(dtype, rows * cols, rand);
          const xs = randomF32(nb * cols, rand);
          const wp = put(k, w);
          const xsp = put(k, xs);
          const ysp = k.alloc(nb * rows * 4);
          k.matvecBatch(dtype, wp, rows, cols, xsp, ysp, nb);
          const ys = k.f32(ysp, nb * rows);
          const wv = weightValues(dtype, w);
          for (let b = 0; b < nb; b++) {
            const x = xs.subarray(b * cols, (b + 1) * cols);
            for (let r = 0; r < rows; r++) {
              expectClose(ys[b * rows + r]!, refRow(wv, cols, r, x), `${dtype} nb=${nb} [${rows},${cols}] b=${b} r=${r}`);
            }
          }
          k.reset(mark);
        }
      }
    });

    it(`accumulateRows ${dtype} over a whole matrix adds its rows in order, one product each (the batched kernel's bits)`, async () => {
      // one thread: no partial sums per thread, so every y element is
      // ((0 + a0 w0) + a1 w1) + ... in f32, which is also what accumulateRowsBatch gives
      const one = await CpuKernels.create({threads: 1, minParallelBytes: 0});
      try {
        const rand = rng(5);
        for (const [rows, cols] of [[1, 3], [6, 67], [67, 288], [9, 1000]] as const) {
          const w = randomWeights(dtype, rows * cols, rand);
          const coef = randomF32(rows, rand);
          const wv = weightValues(dtype, w);
          const [wp, cp, yp, ysp] = [put(one, w), put(one, coef), one.alloc(cols * 4), one.alloc(2 * cols * 4)];
          one.accumulateRows(dtype, wp, rows, cols, 0, rows, cp, yp);
          const coefs = new Float32Array(2 * rows);
          for (let i = 0; i < rows; i++) coefs[2 * i] = coefs[2 * i + 1] = coef[i]!;
          one.accumulateRowsBatch(dtype, wp, rows, cols, 0, rows, put(one, coefs), ysp, 2);
          const y = one.f32(yp, cols);
          const ys = one.f32(ysp, 2 * cols);
          for (let c = 0; c < cols; c++) {
            let s = 0;
            for (let i = 0; i < rows; i++) s = Math.fround(s + Math.fround(coef[i]! * wv[i * cols + c]!));
            expect(y[c], `${dtype} [${rows},${cols}] c=${c}`).toBe(s);
            expect(ys[c], `${dtype} batched [${rows},${cols}] c=${c}`).toBe(s);
          }
        }
      } finally {
        one.dispose();
      }
    });

    it(`accumulateRows ${dtype} over listed rows adds them four at a time, ((a0 w0 + a1 w1) + (a2 w2 + a3 w3)), then one by one`, async () => {
      const one = await CpuKernels.create({threads: 1, minParallelBytes: 0});
      try {
        const rand = rng(6);
        const f = Math.fround;
        for (const [rows, cols, n] of [[9, 3, 6], [20, 67, 11], [40, 288, 17], [12, 1000, 8]] as const) {
          const w = randomWeights(dtype, rows * cols, rand);
          const coef = randomF32(n, rand);
          const ids = Int32Array.from({length: n}, () => Math.floor(rand() * rows));
          const wv = weightValues(dtype, w);
          const yp = one.alloc(cols * 4);
          one.accumulateRows(dtype, put(one, w), rows, cols, put(one, ids), n, put(one, coef), yp);
          const y = one.f32(yp, cols);
          for (let c = 0; c < cols; c++) {
            const t = (i: number) => f(coef[i]! * wv[ids[i]! * cols + c]!);
            let s = 0;
            let i = 0;
            for (; i + 4 <= n; i += 4) s = f(s + f(f(t(i) + t(i + 1)) + f(t(i + 2) + t(i + 3))));
            for (; i < n; i++) s = f(s + t(i));
            expect(y[c], `${dtype} [${rows},${cols}] n=${n} c=${c}`).toBe(s);
          }
        }
      } finally {
        one.dispose();
      }
    });
  }

  it('widen converts every bf16 and f16 bit pattern exactly', () => {
    const n = 65536;
    const mark = k.mark();
    const src = put(k, Uint16Array.from({length: n}, (_, i) => i));
    const dst = k.alloc(n * 4);
    k.widen('f16', src, dst, n);
    const f16 = new Uint32Array(k.u8(dst, n * 4).slice().buffer);
    k.widen('bf16', src, dst, n);
    const bf16 = new Uint32Array(k.u8(dst, n * 4).slice().buffer);
    for (let h = 0; h < n; h++) {
      if (f16[h] !== f16ToF32Bits(h)) throw new Error(`f16 ${h.toString(16)}: ${f16[h]!.toString(16)}`);
      if (bf16[h] !== (h << 16) >>> 0) throw new Error(`bf16 ${h.toString(16)}: ${bf16[h]!.toString(16)}`);
    }
    k.reset(mark);
  });

  it('matvec f16 handles inf and NaN weights exactly and keeps other rows unchanged', () => {
    const rows = 9;
    const cols = 21;
    const rand = rng(5);
    const w = randomF16(rows * cols, rand);
    const x = randomF32(cols, rand);
    x[9] = 0;
    const mark = k.mark();
    const wp = put(k, w);
    const xp = put(k, x);
    const clean = k.alloc(rows * 4);
    k.matvec('f16', wp, rows, cols, xp, clean);
    const before = k.f32(clean, rows).slice();
    const wv = k.u16(wp, rows * cols);
    wv[1 * cols + 4] = 0x7c00; // +inf in the 8-wide part
    wv[2 * cols + 17] = 0xfc00; // -inf in the 4-wide step
    wv[6 * cols + 20] = 0x7e01; // NaN in the scalar tail
    wv[8 * cols + 9] = 0x7c00; // +inf, single-row path, with x = 0 there: inf * 0 = NaN
    k.matvec('f16', wp, rows, cols, xp, clean);
    const y = k.f32(clean, rows);
    expect(y[1]).toBe(x[4]! > 0 ? Infinity : -Infinity);
    expect(y[2]).toBe(x[17]! > 0 ? -Infinity : Infinity);
    expect(y[6]).toBeNaN();
    expect(y[8]).toBeNaN();
    for (const r of [0, 3, 4, 5, 7]) expect(y[r]).toBe(before[r]);
    k.reset(mark);
  });
});
