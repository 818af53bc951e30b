/**
 * The predictors' int8 / int4 matrices against x rounded to 8 bits per group (matvecQI, the FFN
 * predictors' fast form): the rounded x's layout, every product against a float64 reference of
 * dequant(W) times the rounded x (every code, including -128 and -8), batches bit for bit the
 * single call, the error against the f32 product within the rounding's bound, and where the
 * backend takes it (Backend.matvecRoundedBatch) or keeps f32.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {createCpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {roundedXBytes, roundQuantX} from '../../../../src/core/backends/cpu/quant-x.js';
import {quantize, quantRowBytes} from '../../../../src/core/numeric/quant.js';
import {UploadedPredictor} from '../../../../src/core/hire/predictor/uploaded.js';
import {syntheticPredictor} from '../../../../src/core/hire/predictor/synthetic.js';
import {put, randomF32, rng} from './helpers.js';

/** What roundQuantX stores, in column order: the int8 values, each group's dx and correction. */
function refRound(x: Float32Array, gs: number): {q: Int8Array; dx: Float32Array} {
  const q = new Int8Array(x.length);
  const dx = new Float32Array(x.length / gs);
  for (let g = 0; g < dx.length; g++) {
    let amax = 0;
    for (let c = g * gs; c < (g + 1) * gs; c++) amax = Math.max(amax, Math.abs(x[c]!));
    dx[g] = amax / 127;
    for (let c = g * gs; c < (g + 1) * gs; c++) q[c] = dx[g]! > 0 ? Math.max(-127, Math.min(127, Math.round(x[c]! / dx[g]!))) : 0;
  }
  return {q, dx};
}

/** Float64 dequant(W) row r . (q * dx), straight from the packed codes, and sum |w x~|. */
function refRounded(bits: 8 | 4, data: Uint8Array, scales: Float32Array, cols: number, gs: number, r: number, x: {q: Int8Array; dx: Float32Array}) {
  const rowBytes = quantRowBytes(bits, cols);
  const ng = cols / gs;
  let y = 0;
  let mag = 0;
  for (let c = 0; c < cols; c++) {
    const code = bits === 8 ? (data[r * cols + c]! << 24) >> 24 : (((data[r * rowBytes + (c >> 1)]! >> ((c & 1) * 4)) & 15) ^ 8) - 8;
    const g = Math.floor(c / gs);
    const p = code * scales[r * ng + g]! * x.q[c]! * x.dx[g]!;
    y += p;
    mag += Math.abs(p);
  }
  return {y, mag};
}

/** [rows, cols, groupSize]: one or several groups a row, row counts off the 16-row blocks. */
const SHAPES: [number, number, number][] = [
  [1, 32, 32],
  [5, 64, 32],
  [37, 128, 64],
  [70, 128, 128],
  [19, 256, 32],
  [3, 1024, 64],
];

describe('rounded x (roundQuantX)', () => {
  it('q4: each 32 columns as the even ones then the odd ones; dx = max |x| / 127; corr = 8 * sum; a zero group rounds to zeros', () => {
    const memory = {buffer: new SharedArrayBuffer(4096), grow: () => 0};
    const x = new Float32Array(memory.buffer, 0, 96);
    for (let c = 0; c < 64; c++) x[c] = (c - 20) / 10; // groups 0, 1: max |x| 4.3, then a zero group
    x[7] = -12.7; // group 0's max: dx 0.1
    const xq = 1024;
    expect(roundedXBytes(96, 32)).toBe(96 + 24);
    roundQuantX(memory, 4, 0, xq, 96, 32);
    const q = new Int8Array(memory.buffer, xq, 96);
    const dx = new Float32Array(memory.buffer, xq + 96, 3);
    const corr = new Int32Array(memory.buffer, xq + 96 + 12, 3);
    expect(dx[0]).toBeCloseTo(0.1, 7);
    expect(dx[2]).toBe(0);
    const want = refRound(x, 32);
    for (let c = 0; c < 96; c++) {
      const o = c - (c % 32);
      expect(q[o + (c % 2) * 16 + ((c % 32) >> 1)], `column ${c}`).toBe(want.q[c]);
    }
    expect(want.q[7]).toBe(-127);
    for (let g = 0; g < 3; g++) expect(corr[g]).toBe(8 * want.q.subarray(g * 32, (g + 1) * 32).reduce((a, v) => a + v, 0));
    // q8: column order, no correction
    roundQuantX(memory, 8, 0, xq, 96, 32);
    expect(Array.from(new Int8Array(memory.buffer, xq, 96))).toEqual(Array.from(want.q));
    expect(Array.from(new Int32Array(memory.buffer, xq + 96 + 12, 3))).toEqual([0, 0, 0]);
  });
});

for (const threads of [1, 2]) {
  describe(`matvecQI, ${threads} thread${threads > 1 ? 's' : ''}`, () => {
    let k: CpuKernels;
    beforeAll(async () => {
      k = await CpuKernels.create({threads, minParallelBytes: 0});
    });
    afterAll(() => k.dispose());

    for (const bits of [8, 4] as const) {
      it(`int${bits}: every product against float64 of dequant(W) and the rounded x, every code included`, () => {
        if (!k.qiSupported(bits, 32)) {
          console.log(`skipped: int${bits} has no integer kernel on the ${k.simd} build`);
          return;
        }
        const rand = rng(40 + bits + threads);
        for (const [rows, cols, gs] of SHAPES) {
          const mark = k.mark();
          const rowBytes = quantRowBytes(bits, cols);
          const data = new Uint8Array(rows * rowBytes);
          for (let i = 0; i < data.length; i++) data[i] = i < 256 ? i : Math.floor(rand() * 256);
          if (bits === 8) for (let i = 0; i < data.length; i++) if (data[i] === 0x80) data[i] = 0x81; // the quantiser writes -127..127
          const scales = Float32Array.from({length: (rows * cols) / gs}, () => 0.01 + rand());
          const x = randomF32(cols, rand).map((v, c) => (c % 7 === 0 ? 30 * v : v)); // outliers
          const yp = k.alloc(rows * 4);
          k.matvecQI(bits, put(k, data), put(k, scales), rows, cols, gs, put(k, x), yp);
          const y = k.f32(yp, rows);
          const xr = refRound(x, gs);
          for (let r = 0; r < rows; r++) {
            const ref = refRounded(bits, data, scales, cols, gs, r, xr);
            // integer dots are exact; the f32 steps per group and the lane sums round
            expect(Math.abs(y[r]! - ref.y), `[${rows},${cols}] gs ${gs} row ${r}`).toBeLessThanOrEqual(1e-5 * ref.mag + 1e-30);
          }
          k.reset(mark);
        }
      });

      it(`int${bits}: a batch of 5 gives each vector's single result bit for bit, within the rounding bound of the f32 product`, () => {
        if (!k.qiSupported(bits, 64)) {
          console.log(`skipped: int${bits} has no integer kernel on the ${k.simd} build`);
          return;
        }
        const rand = rng(60 + bits + threads);
        const [rows, cols, gs, nv] = [53, 192, 64, 5];
        const mark = k.mark();
        const w = randomF32(rows * cols, rand);
        const q = quantize(w, rows, cols, bits, gs);
        const [wp, sp] = [put(k, q.data), put(k, q.scales)];
        const xs = randomF32(nv * cols, rand);
        const xp = put(k, xs);
        const ys = k.alloc(nv * rows * 4);
        k.matvecQIBatch(bits, wp, sp, rows, cols, gs, xp, ys, nv);
        const batch = Array.from(k.f32(ys, nv * rows));
        const one = k.alloc(rows * 4);
        const exact = k.alloc(rows * 4);
        for (let v = 0; v < nv; v++) {
          k.matvecQI(bits, wp, sp, rows, cols, gs, xp + v * cols * 4, one);
          expect(batch.slice(v * rows, (v + 1) * rows), `vector ${v}`).toEqual(Array.from(k.f32(one, rows)));
          if (bits === 8) k.matvecQ8(wp, sp, rows, cols, gs, xp + v * cols * 4, exact);
          else k.matvecQ4(wp, sp, rows, cols, gs, xp + v * cols * 4, exact);
          // |W (x - x~)| <= sum_c |w_c| dx_g / 2 (plus f32 rounding)
          const x = xs.subarray(v * cols, (v + 1) * cols);
          const {dx} = refRound(x, gs);
          const deq = new Float32Array(cols);
          for (let r = 0; r < rows; r++) {
            let bound = 0;
            for (let c = 0; c < cols; c++) {
              const code = bits === 8 ? (q.data[r * cols + c]! << 24) >> 24 : (((q.data[r * (cols / 2) + (c >> 1)]! >> ((c & 1) * 4)) & 15) ^ 8) - 8;
              deq[c] = code * q.scales[r * (cols / gs) + Math.floor(c / gs)]!;
              bound += (Math.abs(deq[c]!) * dx[Math.floor(c / gs)]!) / 2;
            }
            expect(Math.abs(k.f32(one, rows)[r]! - k.f32(exact, rows)[r]!), `vector ${v} row ${r}`).toBeLessThanOrEqual(bound * 1.001 + 1e-6);
          }
        }
        k.reset(mark);
      });
    }

    it('a group size off the 32-column chunks has no integer kernel: qiSupported says so and the call is an error', () => {
      expect(k.qiSupported(8, 48)).toBe(false);
      const mark = k.mark();
      const p = k.alloc(4096);
      expect(() => k.matvecQI(8, p, p, 2, 96, 48, p, p)).toThrow(/no integer kernel for 8-bit weights in groups of 48/);
      k.reset(mark);
    });
  });
}

describe('Backend.matvecRoundedBatch (cpu)', () => {
  it('takes int8 / int4 predictor matrices unless blockActivations is f32; the FFN predictor uses it, single and batched alike', async () => {
    // the quantised kind: its one product is the rounded one (a low-rank kind's f32 B product
    // is a batched dense product, which sums in another order than the one-vector matvec)
    const pred = syntheticPredictor({kind: 'quant', vocabSize: 96, dim: 64, rank: 32, bits: 8, groupSize: 32, seed: 5});
    const rand = rng(3);
    const xs = [randomF32(64, rand), randomF32(64, rand), randomF32(64, rand)];
    const results: Float32Array[][] = [];
    for (const blockActivations of ['int8', 'f32'] as const) {
      const b = await createCpuBackend({threads: 2, blockActivations});
      try {
        const q = b.uploadQuantMatrix(pred.Q!);
        const dense = b.uploadMatrix({dtype: 'f32', rows: 2, cols: 64, data: new Float32Array(128)});
        const v = b.uploadVector(new Float32Array(64));
        const o = b.createVector(2);
        expect(b.matvecRoundedBatch(dense, [v], [o])).toBe(false);
        expect(b.matvecRoundedBatch(q, [v], [b.createVector(96)])).toBe(blockActivations !== 'f32');
        const up = new UploadedPredictor(b, pred, {roundedX: true});
        const single: Float32Array[] = [];
        for (const x of xs) single.push(await up.predict(b.uploadVector(x)));
        const batch = await up.predictBatch(xs.map((x) => b.uploadVector(x)));
        batch.forEach((p, i) => expect(Array.from(p), `input ${i}`).toEqual(Array.from(single[i]!)));
        results.push(single);
      } finally {
        b.dispose();
      }
    }
    // rounded (int8) against exact (f32): close, not equal
    const [rounded, exact] = results as [Float32Array[], Float32Array[]];
    let differs = false;
    rounded.forEach((p, i) => p.forEach((y, j) => {
      expect(y).toBeCloseTo(exact[i]![j]!, 1);
      differs ||= y !== exact[i]![j]!;
    }));
    expect(differs).toBe(true);
  });
});
