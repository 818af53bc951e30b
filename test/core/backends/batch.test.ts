/**
 * Batched kernels (several sequences decoded together): matvecBatch, matvecRowsBatch and
 * accumulateRowsBatch equal the unbatched kernels run once per vector, on the cpu backend (which
 * reads each weight row once for the whole batch) and on the looped reference.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Backend, HostMatrix} from '../../../src/core/backends/backend.js';
import {CpuBackend} from '../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../src/core/backends/cpu/kernels.js';
import {createBackend} from '../../../src/core/backends/index.js';
import {randomBf16, randomF32} from './cpu/helpers.js';
import {rng} from '../../helpers/random.js';

const backends: Record<string, Backend> = {};
beforeAll(async () => {
  backends.reference = await createBackend('reference');
  backends['cpu 1 thread'] = new CpuBackend(await CpuKernels.create({threads: 1}));
  backends['cpu 2 threads'] = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
});
afterAll(() => Object.values(backends).forEach((b) => b.dispose()));

async function readAll(b: Backend, vs: ReturnType<Backend['createVector']>[]): Promise<Float32Array[]> {
  return Promise.all(vs.map((v) => b.read(v)));
}

describe('batched kernels equal the unbatched ones', () => {
  for (const name of ['reference', 'cpu 1 thread', 'cpu 2 threads']) {
    for (const dtype of ['f32', 'bf16'] as const) {
      it(`${name}, ${dtype}, batches of 1..9`, async () => {
        const b = backends[name]!;
        const rand = rng(77 + dtype.length);
        const rows = 37;
        for (const cols of [5, 16, 70]) {
          const host: HostMatrix = dtype === 'f32'
            ? {dtype, rows, cols, data: randomF32(rows * cols, rand)}
            : {dtype, rows, cols, data: randomBf16(rows * cols, rand)};
          const w = b.uploadMatrix(host);
          const ids = Int32Array.from([36, 0, 5, 6, 7, 8, 20, 5]);
          const bias = b.uploadVector(randomF32(Math.max(rows, cols), rand).subarray(0, rows));
          const biasCols = b.uploadVector(randomF32(cols, rand));
          for (const nb of [1, 2, 3, 4, 5, 8, 9]) {
            const xs = Array.from({length: nb}, () => b.uploadVector(randomF32(cols, rand)));
            const coefs = Array.from({length: nb}, () => b.uploadVector(randomF32(ids.length, rand)));
            const coefsAll = Array.from({length: nb}, () => b.uploadVector(randomF32(rows, rand)));
            const mk = (n: number) => Array.from({length: nb}, () => b.createVector(n));
            const cases: Array<[() => void, () => void, ReturnType<typeof mk>, ReturnType<typeof mk>]> = [];
            const [o1, o2] = [mk(rows), mk(rows)];
            cases.push([() => b.matvecBatch(w, xs, o1, bias), () => xs.forEach((x, i) => b.matvec(w, x, o2[i]!, bias)), o1, o2]);
            const [r1, r2] = [mk(ids.length), mk(ids.length)];
            cases.push([() => b.matvecRowsBatch(w, ids, xs, r1), () => xs.forEach((x, i) => b.matvecRows(w, ids, x, r2[i]!)), r1, r2]);
            const [a1, a2] = [mk(cols), mk(cols)];
            cases.push([() => b.accumulateRowsBatch(w, ids, coefs, a1, biasCols), () => coefs.forEach((c, i) => b.accumulateRows(w, ids, c, a2[i]!, biasCols)), a1, a2]);
            const [n1, n2] = [mk(cols), mk(cols)];
            cases.push([() => b.accumulateRowsBatch(w, null, coefsAll, n1), () => coefsAll.forEach((c, i) => b.accumulateRows(w, null, c, n2[i]!)), n1, n2]);
            for (const [batched, looped, got, want] of cases) {
              batched();
              looped();
              const [g, wv] = [await readAll(b, got), await readAll(b, want)];
              for (let i = 0; i < nb; i++) {
                const scale = Math.max(1, ...Array.from(wv[i]!, Math.abs));
                for (let j = 0; j < wv[i]!.length; j++) expect(Math.abs(g[i]![j]! - wv[i]![j]!) / scale).toBeLessThan(1e-5);
              }
            }
          }
        }
      });
    }
  }
});
