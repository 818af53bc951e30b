import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {put, randomF32, rng} from './helpers.js';

/**
 * matvec_rows_f32 reads scattered rows two at a time ($dot2_rows_f32) and a row whose successor
 * is the next row in memory alone ($dot_f32); either way every row must equal matvec bit for bit.
 */
describe('gathered f32 rows', () => {
  let one: CpuKernels;
  let two: CpuKernels;
  beforeAll(async () => {
    one = await CpuKernels.create({threads: 1});
    two = await CpuKernels.create({threads: 2, minParallelBytes: 0});
  });
  afterAll(() => {
    one.dispose();
    two.dispose();
  });

  it('equal matvec bit for bit for scattered, adjacent, repeated and odd-length id lists', () => {
    const rand = rng(41);
    const rows = 300;
    for (const cols of [1, 3, 4, 16, 37, 67, 2048]) {
      const w = randomF32(rows * cols, rand);
      const x = randomF32(cols, rand);
      const lists: Int32Array[] = [
        Int32Array.from({length: 257}, () => Math.floor(rand() * rows)), // scattered
        Int32Array.from({length: 64}, (_, i) => 100 + i), // one run of adjacent rows
        Int32Array.from(Array.from({length: 33}, () => {
          const r = Math.floor(rand() * (rows - 1));
          return [r, r + 1, Math.floor(rand() * rows)]; // a run of two, then a scattered row
        }).flat()),
        Int32Array.from([7, 7, 8, 8, 9, 299, 0, 1, 298, 299]), // repeats, ends of the matrix
        Int32Array.from([5]),
      ];
      for (const k of [one, two]) {
        const mark = k.mark();
        const wp = put(k, w);
        const xp = put(k, x);
        const yAll = k.alloc(rows * 4);
        k.matvec('f32', wp, rows, cols, xp, yAll);
        const full = k.f32(yAll, rows).slice();
        for (const ids of lists) {
          const idp = put(k, ids);
          const yp = k.alloc(ids.length * 4);
          k.matvecRows('f32', wp, cols, idp, ids.length, xp, yp, rows);
          const y = k.f32(yp, ids.length);
          for (let i = 0; i < ids.length; i++) {
            if (!Object.is(y[i], full[ids[i]!])) {
              expect(y[i], `cols ${cols} threads ${k.threads} list ${ids.length} at ${i} (row ${ids[i]})`).toBe(full[ids[i]!]);
            }
          }
        }
        k.reset(mark);
      }
    }
  });
});
