/**
 * The batched kernels with `owners` (one 32-bit mask per row: bit b = sequence b needs the row).
 * On cpu every owned entry is bit for bit what the call gives without owners, every other matvec
 * entry is 0, a weighted row sum with owners equals the one with the other coefficients zeroed,
 * and the work a mask leaves out is not done: the kernels count the row and sequence pairs they
 * compute, and a NaN coefficient outside the mask never reaches a sum. A backend that ignores
 * owners (reference) still meets the contract.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Backend, HostMatrix, Vec} from '../../../../src/core/backends/backend.js';
import {CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {createBackend} from '../../../../src/core/backends/index.js';
import {randomBlockMatrix} from '../../../helpers/block-parity.js';
import {randomArray, randomMatrix, rng} from '../tfjs/helpers.js';

let one: CpuKernels;
const backends: Record<string, Backend> = {};
beforeAll(async () => {
  one = await CpuKernels.create({threads: 1});
  backends['cpu 1 thread'] = new CpuBackend(one);
  backends['cpu 2 threads'] = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
  backends['cpu 2 threads, int16'] = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}), 'int16');
  backends.reference = await createBackend('reference');
});
afterAll(() => Object.values(backends).forEach((b) => b.dispose()));

const FORMATS = ['f32', 'bf16', 'f16', 'q8_0', 'q4_0'] as const;
type Format = (typeof FORMATS)[number];

function matrix(format: Format, rows: number, cols: number, random: () => number): HostMatrix {
  return format === 'q8_0' || format === 'q4_0' ? randomBlockMatrix(format, rows, cols, random) : randomMatrix(format, rows, cols, random);
}

/** n masks over nb sequences: the first empty, the second full, the third the last sequence alone, the rest random. */
function masks(n: number, nb: number, random: () => number): Uint32Array {
  const all = nb === 32 ? 0xffffffff : 2 ** nb - 1;
  return Uint32Array.from({length: n}, (_, i) => {
    if (i % 7 === 0) return 0;
    if (i % 7 === 1) return all;
    if (i % 7 === 2) return 2 ** (nb - 1);
    let m = 0;
    for (let b = 0; b < nb; b++) if (random() < 0.3) m |= 1 << b;
    return m >>> 0;
  });
}

const owns = (m: number, b: number) => ((m >>> b) & 1) === 1;
const bits = (v: Float32Array) => Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length));
const readAll = (b: Backend, vs: Vec[]) => Promise.all(vs.map((v) => b.read(v)));
const popcounts = (ms: Uint32Array) => ms.reduce((a, m) => a + bits32(m), 0);
function bits32(m: number): number {
  let c = 0;
  for (let x = m >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

describe('owner-aware batched matvec', () => {
  for (const name of ['cpu 1 thread', 'cpu 2 threads', 'cpu 2 threads, int16', 'reference']) {
    for (const format of FORMATS) {
      if (name.includes('int16') && (format === 'f32' || format === 'bf16' || format === 'f16')) continue; // int16 is for block weights
      it(`${name}, ${format}: owned entries equal the call without owners bit for bit${name === 'reference' ? '' : ', the others are 0'}`, async () => {
        const b = backends[name]!;
        const cpu = name !== 'reference';
        const random = rng(format.length * 31 + name.length);
        // dense cols not a multiple of 4: matvecBatch without owners then also runs the row kernels
        const [rows, cols] = [37, format.startsWith('q') ? 96 : 70];
        const w = b.uploadMatrix(matrix(format, rows, cols, random));
        const ids = Int32Array.from([36, 0, 5, 6, 7, 8, 20, 5, 1, 2, 3, 4, 30, 31, 9]);
        for (const nb of [1, 3, 5, 16]) {
          const xs = Array.from({length: nb}, () => b.uploadVector(randomArray(cols, random)));
          const out = (n: number) => xs.map(() => b.createVector(n));
          for (const [n, call] of [
            [rows, (o: Vec[], own?: Uint32Array) => b.matvecBatch(w, xs, o, undefined, own)],
            [ids.length, (o: Vec[], own?: Uint32Array) => b.matvecRowsBatch(w, ids, xs, o, own)],
          ] as const) {
            const own = masks(n, nb, random);
            const [plain, owned] = [out(n), out(n)];
            call(plain);
            call(owned, own);
            const [want, got] = [await readAll(b, plain), await readAll(b, owned)];
            for (let s = 0; s < nb; s++) {
              for (let i = 0; i < n; i++) {
                if (owns(own[i]!, s)) expect(bits(got[s]!.subarray(i, i + 1)), `sequence ${s}, row ${i}`).toEqual(bits(want[s]!.subarray(i, i + 1)));
                else if (cpu && nb > 1) expect(got[s]![i], `sequence ${s}, row ${i} (not owned)`).toBe(0);
                else expect(Number.isFinite(got[s]![i])).toBe(true);
              }
            }
          }
        }
      });
    }
  }

  it('cpu: dense matvecBatch with owners over 4 or more vectors gives the batched row kernels\' bits (not the matrix-matrix kernel\'s)', async () => {
    const b = backends['cpu 2 threads']!;
    const random = rng(5);
    const [rows, cols, nb] = [40, 64, 6];
    const w = b.uploadMatrix(matrix('f32', rows, cols, random));
    const xs = Array.from({length: nb}, () => b.uploadVector(randomArray(cols, random)));
    const own = masks(rows, nb, random);
    const every = Int32Array.from({length: rows}, (_, i) => i);
    const [rowsOut, owned] = [xs.map(() => b.createVector(rows)), xs.map(() => b.createVector(rows))];
    b.matvecRowsBatch(w, every, xs, rowsOut);
    b.matvecBatch(w, xs, owned, undefined, own);
    const [want, got] = [await readAll(b, rowsOut), await readAll(b, owned)];
    for (let s = 0; s < nb; s++) for (let i = 0; i < rows; i++) expect(got[s]![i]).toBe(owns(own[i]!, s) ? want[s]![i] : 0);
  });
});

describe('owner-aware batched weighted row sums', () => {
  for (const name of ['cpu 1 thread', 'cpu 2 threads', 'reference']) {
    for (const format of FORMATS) {
      it(`${name}, ${format}: equal the sums with the other coefficients zeroed, bit for bit${name === 'reference' ? '' : ', whatever those hold'}`, async () => {
        const b = backends[name]!;
        const cpu = name !== 'reference';
        const random = rng(format.length * 17 + name.length);
        const [rows, cols] = [37, format.startsWith('q') ? 96 : 70];
        const w = b.uploadMatrix(matrix(format, rows, cols, random));
        const bias = b.uploadVector(randomArray(cols, random));
        const ids = Int32Array.from([36, 0, 5, 6, 7, 8, 20, 5, 1, 2, 3, 4, 30]);
        for (const nb of [2, 3, 5, 16]) {
          for (const listed of [ids, null]) {
            const n = listed ? listed.length : rows;
            const own = masks(n, nb, random);
            const coefs = Array.from({length: nb}, () => randomArray(n, random));
            const zeroed = coefs.map((c, s) => c.map((v, i) => (owns(own[i]!, s) ? v : 0)));
            const poisoned = coefs.map((c, s) => c.map((v, i) => (owns(own[i]!, s) ? v : Number.NaN)));
            const sum = async (cs: Float32Array[], o?: Uint32Array) => {
              const outs = cs.map(() => b.createVector(cols));
              b.accumulateRowsBatch(w, listed, cs.map((c) => b.uploadVector(c)), outs, bias, o);
              return (await readAll(b, outs)).map(bits);
            };
            const want = await sum(zeroed);
            expect(await sum(zeroed, own)).toEqual(want);
            if (!cpu) continue;
            // cpu never reads a coefficient outside the mask: any value there, NaN included, is left out
            expect(await sum(coefs, own)).toEqual(want);
            expect(await sum(poisoned, own)).toEqual(want);
          }
        }
      });
    }
  }
});

describe('cpu batched weighted row sums without owners (register tiles over blocks of rows)', () => {
  for (const name of ['cpu 1 thread', 'cpu 2 threads']) {
    for (const format of ['f32', 'bf16', 'f16'] as const) {
      it(`${name}, ${format}: the same bits as with every row owned by every output (the row-at-a-time loop), over several blocks, tails and listed rows`, async () => {
        const b = backends[name]!;
        const random = rng(format.length * 31 + name.length);
        for (const [rows, cols] of [
          [150, 70],
          [130, 1030],
        ] as const) {
          const w = b.uploadMatrix(matrix(format, rows, cols, random));
          const listed = Int32Array.from({length: 140}, (_, i) => (i * 37) % rows); // 3 blocks of 64, repeats
          for (const nb of [2, 3, 4, 5, 16]) {
            for (const ids of [listed, null, new Int32Array(0)]) {
              const n = ids ? ids.length : rows;
              const coefs = Array.from({length: nb}, () => b.uploadVector(randomArray(n, random)));
              const every = new Uint32Array(n).fill(nb === 32 ? 0xffffffff : 2 ** nb - 1);
              const sum = async (own?: Uint32Array) => {
                const outs = coefs.map(() => b.createVector(cols));
                b.accumulateRowsBatch(w, ids, coefs, outs, undefined, own);
                return (await readAll(b, outs)).map(bits);
              };
              expect(await sum()).toEqual(await sum(every));
            }
          }
        }
      });
    }
  }
});

describe('cpu batched weighted row sums, a call too small to split (every column on the calling thread)', () => {
  it('two threads, the default split threshold: the same bits as the row-at-a-time loop', async () => {
    const b = new CpuBackend(await CpuKernels.create({threads: 2}));
    try {
      const random = rng(77);
      const [rows, cols, nb] = [90, 136, 5]; // 90 x 136 f32 = 49 KB: below the 64 KiB split threshold
      const w = b.uploadMatrix(matrix('f32', rows, cols, random));
      const coefs = Array.from({length: nb}, () => b.uploadVector(randomArray(rows, random)));
      const sum = async (own?: Uint32Array) => {
        const outs = coefs.map(() => b.createVector(cols));
        b.accumulateRowsBatch(w, null, coefs, outs, undefined, own);
        return (await readAll(b, outs)).map(bits);
      };
      expect(await sum()).toEqual(await sum(new Uint32Array(rows).fill(2 ** nb - 1)));
    } finally {
      b.dispose();
    }
  });
});

describe('cpu skips the work owners leave out', () => {
  it('the kernels compute one row and sequence pair per owned bit, dense and block weights alike', async () => {
    const b = backends['cpu 1 thread']!;
    const random = rng(9);
    const [rows, cols, nb] = [37, 96, 16];
    for (const format of FORMATS) {
      const w = b.uploadMatrix(matrix(format, rows, cols, random));
      const xs = Array.from({length: nb}, () => b.uploadVector(randomArray(cols, random)));
      const ids = Int32Array.from({length: 20}, (_, i) => (i * 7) % rows);
      const coefs = Array.from({length: nb}, () => b.uploadVector(randomArray(ids.length, random)));
      const work = (call: () => void) => {
        const before = one.ownedWork;
        call();
        return one.ownedWork - before;
      };
      const own = masks(ids.length, nb, random);
      const full = masks(rows, nb, random);
      expect(popcounts(own)).toBeLessThan(ids.length * nb / 2);
      expect(work(() => b.matvecRowsBatch(w, ids, xs, xs.map(() => b.createVector(ids.length)), own))).toBe(popcounts(own));
      expect(work(() => b.matvecBatch(w, xs, xs.map(() => b.createVector(rows)), undefined, full))).toBe(popcounts(full));
      expect(work(() => b.accumulateRowsBatch(w, ids, coefs, xs.map(() => b.createVector(cols)), undefined, own))).toBe(popcounts(own));
      // without owners the owner-aware paths do not run
      expect(work(() => b.matvecRowsBatch(w, ids, xs, xs.map(() => b.createVector(ids.length))))).toBe(0);
    }
  });

  it('refuses owners for more than 32 sequences or of the wrong length, naming the problem', async () => {
    const b = backends['cpu 1 thread']!;
    const random = rng(2);
    const w = b.uploadMatrix(matrix('f32', 8, 16, random));
    const xs = Array.from({length: 33}, () => b.uploadVector(randomArray(16, random)));
    const ids = Int32Array.from([1, 2, 3]);
    expect(() => b.matvecRowsBatch(w, ids, xs, xs.map(() => b.createVector(3)), new Uint32Array(3))).toThrow(/at most 32 sequences, got 33/);
    expect(() => b.matvecRowsBatch(w, ids, xs.slice(0, 4), xs.slice(0, 4).map(() => b.createVector(3)), new Uint32Array(2))).toThrow(/2 masks for 3 rows/);
  });
});
