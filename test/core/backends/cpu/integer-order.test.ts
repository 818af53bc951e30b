/**
 * The integer-activation block dot products (q8_0, q4_0) follow the summation order kernels.wat
 * documents, bit for bit: x rounded to 16 bits per block (int16; and q8_0 in int8 mode) or to 8
 * bits (int8 mode, q4_0), each block's exact integer dot, blocks in groups of four on the four
 * lanes of one f32 accumulator (a short last group on the first lanes), then (l0 + l2) + (l1 +
 * l3). Emulated here in f32 steps; matvec, matvecRows and the batched form on 1 and 2 threads, in
 * the plain and the relaxed SIMD build (whose 8-bit dot product is one instruction), must all
 * give exactly the emulated values.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {BlockKernels} from '../../../../src/core/backends/cpu/block-kernels.js';
import type {Backend} from '../../../../src/core/backends/backend.js';
import {halfValue} from '../../../../src/core/numeric/ggml-quant.js';
import {randomBlockMatrix} from '../../../helpers/block-parity.js';
import {randomArray, rng} from '../tfjs/helpers.js';

const f = Math.fround;

/** Round to nearest, ties to even (f32x4.nearest). */
function nearestEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The prepared x of one 32-column block: q (values of at most `top` in magnitude) and dx. */
function prepare(x: Float32Array, b: number, top: number): {q: number[]; dx: number} {
  const xs = Array.from(x.subarray(b * 32, b * 32 + 32));
  const amax = Math.max(...xs.map(Math.abs));
  const inv = amax > 0 ? f(top / amax) : 0;
  return {q: xs.map((v) => nearestEven(f(v * inv))), dx: f(amax / top)};
}

/** Row r . x in the documented order: activations rounded to 8 bits (int8 mode, q4_0) or 16. */
function emulate(format: 'q8_0' | 'q4_0', mode: 'int16' | 'int8', data: Uint8Array, r: number, cols: number, x: Float32Array): number {
  const top = mode === 'int8' && format === 'q4_0' ? 127 : 32767;
  const nb = cols / 32;
  const bb = format === 'q8_0' ? 34 : 18;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const acc = [0, 0, 0, 0];
  for (let b = 0; b < nb; b++) {
    const p = (r * nb + b) * bb;
    const {q, dx} = prepare(x, b, top);
    let s = 0;
    for (let j = 0; j < 32; j++) {
      const w = format === 'q8_0' ? dv.getInt8(p + 2 + j) : j < 16 ? (dv.getUint8(p + 2 + j) & 15) - 8 : (dv.getUint8(p + 2 + j - 16) >> 4) - 8;
      s += w * q[j]!;
    }
    const d = halfValue(dv.getUint16(p, true));
    acc[b % 4] = f(acc[b % 4]! + f(f(d * dx) * f(s)));
  }
  return f(f(acc[0]! + acc[2]!) + f(acc[1]! + acc[3]!));
}

const MODES = ['int16', 'int8'] as const;
let backends: Record<(typeof MODES)[number], Backend[]>;
beforeAll(async () => {
  const make = async (mode: (typeof MODES)[number]) => [
    new CpuBackend(await CpuKernels.create({threads: 1, simd: 'simd'}), mode),
    new CpuBackend(await CpuKernels.create({threads: 1, simd: 'relaxed'}), mode),
    new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0, simd: 'relaxed'}), mode),
  ];
  backends = {int16: await make('int16'), int8: await make('int8')};
});
afterAll(() => Object.values(backends).flat().forEach((b) => b.dispose()));

describe('cpu block kernels, integer activations: the documented summation order', () => {
  for (const [mode, format] of MODES.flatMap((m) => (['q8_0', 'q4_0'] as const).map((f) => [m, f] as const))) {
    // 7 blocks: one group of four and a last group of three; 5: a last group of one; 8: groups only
    // tiny weights: subnormal half scales (and zero ones), which the kernels widen without denormal arithmetic
    for (const [nb, tiny] of [[7, false], [5, false], [8, false], [1, false], [9, true]] as const) {
      it(`${mode} mode, ${format}, ${nb} blocks per row${tiny ? ', subnormal scales' : ''}: matvec, matvecRows and matvecBatch equal the emulated order bit for bit`, async () => {
        const random = rng(nb * 7 + format.length);
        const [rows, cols] = [37, nb * 32];
        const host = randomBlockMatrix(format, rows, cols, random);
        if (tiny) {
          const dv = new DataView(host.data.buffer, host.data.byteOffset);
          const bb = format === 'q8_0' ? 34 : 18;
          // scales: subnormal halves of either sign, a zero and a negative zero
          for (let b = 0; b < rows * nb; b++) dv.setUint16(b * bb, b === 3 ? 0 : b === 4 ? 0x8000 : (b % 2 ? 0x8000 : 0) | (1 + ((b * 97) % 1023)), true);
        }
        const xs = Array.from({length: 5}, () => randomArray(cols, random));
        const want = xs.map((x) => Array.from({length: rows}, (_, r) => emulate(format, mode, host.data, r, cols, x)));
        const ids = Int32Array.from([36, 0, 17, 17, 5]);
        for (const b of backends[mode]) {
          const w = b.uploadMatrix(host);
          const xv = xs.map((x) => b.uploadVector(x));
          const single = b.createVector(rows);
          b.matvec(w, xv[0]!, single);
          expect(Array.from(await b.read(single))).toEqual(want[0]);
          const picked = b.createVector(ids.length);
          b.matvecRows(w, ids, xv[1]!, picked);
          expect(Array.from(await b.read(picked))).toEqual(Array.from(ids, (i) => want[1]![i]));
          const ys = xv.map(() => b.createVector(rows));
          b.matvecBatch(w, xv, ys);
          for (let v = 0; v < xs.length; v++) expect(Array.from(await b.read(ys[v]!))).toEqual(want[v]);
        }
      });
    }
  }
});

describe('cpu block kernels: matrices with only normal half scales take the loops without the subnormal fix-up', () => {
  it('is decided per matrix from its scales at upload: normal scales yes; one subnormal or one zero scale no', async () => {
    const k = await CpuKernels.create({threads: 1});
    try {
      const blocks = new BlockKernels(k, 'int16');
      for (const format of ['q8_0', 'q4_0'] as const) {
        const host = randomBlockMatrix(format, 6, 64, rng(format.length));
        const bb = format === 'q8_0' ? 34 : 18;
        const cases: Array<[string, number | null, boolean]> = [['normal', null, true], ['one subnormal', 0x0123, false], ['one zero', 0x8000, false]];
        for (const [what, scale, normal] of cases) {
          const data = host.data.slice();
          if (scale !== null) new DataView(data.buffer).setUint16(7 * bb, scale, true);
          const w = k.alloc(data.byteLength);
          k.u8(w, data.byteLength).set(data);
          blocks.noteScales(format, w, data);
          expect([format, what, blocks.normalScales(w)]).toEqual([format, what, normal]);
        }
      }
    } finally {
      k.dispose();
    }
  });
});
