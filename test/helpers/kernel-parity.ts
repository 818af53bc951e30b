/**
 * What every fast backend shares, against the reference backend on random data: vector copies,
 * dense matvec (f32, f16, bf16, with and without bias), matvecRows, embedRow, add/mul,
 * rmsNorm/layerNorm, activations, RoPE and attention. Each backend's test file calls
 * kernelParitySuite and keeps its own tests (engine, tuning variants, kernels only it has) beside it.
 * Tolerances: matvecs 1e-5 of the largest output (f32 accumulation over up to 1000 terms against
 * float64); norms, RoPE, attention and activations 1e-5 relative plus 1e-6 absolute; add/mul 1e-6;
 * copies (vectors, embedRow) exact.
 */
import {describe, expect, it} from 'vitest';
import type {Backend, HostMatrix, Mat, Vec} from '../../src/core/backends/backend.js';
import {ReferenceBackend} from '../../src/core/backends/reference/reference-backend.js';
import type {Activation} from '../../src/core/model/config.js';
import {expectClose, randomArray, randomMatrix, rng} from '../core/backends/tfjs/helpers.js';

/** Makes the same thing on a backend and on the reference: [backend, reference]. */
export interface ReferencePair {
  ref: ReferenceBackend;
  both<T>(make: (b: Backend) => T): [T, T];
  vecs(data: Float32Array): [Vec, Vec];
  mats(host: HostMatrix): [Mat, Mat];
  readBoth(pair: [Vec, Vec]): Promise<[Float32Array, Float32Array]>;
}

/** `backend` is called inside tests, so it may be a backend that a beforeAll or an earlier test opens. */
export function againstReference(backend: () => Backend): ReferencePair {
  const ref = new ReferenceBackend();
  const both = <T>(make: (b: Backend) => T): [T, T] => [make(backend()), make(ref)];
  return {
    ref,
    both,
    vecs: (data) => both((b) => b.uploadVector(data)),
    mats: (host) => both((b) => b.uploadMatrix(host)),
    readBoth: async (pair) => [await backend().read(pair[0]), await ref.read(pair[1])],
  };
}

export interface KernelParityOptions {
  /** [rows, cols] of the dense matvec cases, each in f32, f16 and bf16. */
  matvecShapes: ReadonlyArray<readonly [number, number]>;
}

/** Registers the shared kernel tests, under describe blocks named `${name}: ...`. */
export function kernelParitySuite(name: string, backend: () => Backend, opts: KernelParityOptions): void {
  const {ref, both, vecs, mats, readBoth} = againstReference(backend);

  describe(`${name}: memory`, () => {
    it('copies vectors on upload, write and read; new vectors are zero', async () => {
      const be = backend();
      const host = Float32Array.from([1, 2, 3]);
      const v = be.uploadVector(host);
      host[0] = 99;
      expect(Array.from(await be.read(v))).toEqual([1, 2, 3]);
      be.write(v, host);
      host[1] = 77;
      const got = await be.read(v);
      expect(Array.from(got)).toEqual([99, 2, 3]);
      got[2] = -1;
      expect(Array.from(await be.read(v))).toEqual([99, 2, 3]);
      expect(Array.from(await be.read(be.createVector(5)))).toEqual([0, 0, 0, 0, 0]);
      expect((await be.read(be.createVector(0))).length).toBe(0);
      expect(() => be.write(v, new Float32Array(2))).toThrow(/2 values into a vector of 3/);
    });
  });

  describe(`${name}: matrix kernels`, () => {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      for (const [rows, cols] of opts.matvecShapes) {
        it(`matvec ${dtype} [${rows}, ${cols}], with and without bias`, async () => {
          const be = backend();
          const random = rng(rows * 1000 + cols);
          const w = mats(randomMatrix(dtype, rows, cols, random));
          const x = vecs(randomArray(cols, random));
          const bias = vecs(randomArray(rows, random));
          const out = both((b) => b.createVector(rows));
          be.matvec(w[0], x[0], out[0]);
          ref.matvec(w[1], x[1], out[1]);
          expectClose(...(await readBoth(out)), 1e-5);
          be.matvec(w[0], x[0], out[0], bias[0]);
          ref.matvec(w[1], x[1], out[1], bias[1]);
          expectClose(...(await readBoth(out)), 1e-5);
        });
      }
    }

    it('matvecRows: unsorted rows with repeats, the dense rows, an empty list, and a bad row', async () => {
      const be = backend();
      const random = rng(7);
      const [rows, cols] = [300, 129];
      const w = mats(randomMatrix('bf16', rows, cols, random));
      const x = vecs(randomArray(cols, random));
      const pick = Int32Array.from([299, 0, 17, 17, 150, 3, 298, 1]);
      const out = both((b) => b.createVector(pick.length));
      be.matvecRows(w[0], pick, x[0], out[0]);
      ref.matvecRows(w[1], pick, x[1], out[1]);
      expectClose(...(await readBoth(out)), 1e-5);
      // The same rows again (after a dense matvec) match the dense result at those rows.
      const dense = be.createVector(rows);
      be.matvec(w[0], x[0], dense);
      const full = await be.read(dense);
      be.matvecRows(w[0], pick, x[0], out[0]);
      expectClose(await be.read(out[0]), Array.from(pick, (r) => full[r]!), 1e-6);
      const empty = be.createVector(0);
      be.matvecRows(w[0], new Int32Array(0), x[0], empty);
      expect((await be.read(empty)).length).toBe(0);
      expect(() => be.matvecRows(w[0], Int32Array.from([rows]), x[0], be.createVector(1))).toThrow(new RegExp(`${rows}`));
    });

    it('embedRow copies one row exactly (f32, f16, bf16)', async () => {
      const be = backend();
      const random = rng(9);
      for (const dtype of ['f32', 'f16', 'bf16'] as const) {
        const w = mats(randomMatrix(dtype, 50, 23, random));
        const out = both((b) => b.createVector(23));
        for (const row of [0, 31, 49]) {
          be.embedRow(w[0], row, out[0]);
          ref.embedRow(w[1], row, out[1]);
          const [got, want] = await readBoth(out);
          expect(Array.from(got)).toEqual(Array.from(want));
        }
      }
    });
  });

  describe(`${name}: vector kernels`, () => {
    const n = 777;
    it('add and mul, including out aliasing an input', async () => {
      const random = rng(11);
      const a = vecs(randomArray(n, random));
      const c = vecs(randomArray(n, random));
      const out = both((b) => b.createVector(n));
      for (const [be, i] of [
        [backend(), 0],
        [ref, 1],
      ] as const) {
        be.add(a[i], c[i], out[i]);
        be.mul(out[i], c[i], out[i]);
        be.add(a[i], out[i], a[i]);
      }
      expectClose(...(await readBoth(out)), 1e-6);
      expectClose(...(await readBoth(a)), 1e-6);
    });

    it('rmsNorm and layerNorm, in place and out of place', async () => {
      const be = backend();
      const random = rng(12);
      const x = vecs(randomArray(n, random, 3));
      const w = vecs(randomArray(n, random));
      const bias = vecs(randomArray(n, random));
      const out = both((b) => b.createVector(n));
      be.rmsNorm(x[0], w[0], 1e-5, out[0]);
      ref.rmsNorm(x[1], w[1], 1e-5, out[1]);
      expectClose(...(await readBoth(out)), 1e-5, 1e-6);
      be.layerNorm(x[0], w[0], bias[0], 1e-5, x[0]);
      ref.layerNorm(x[1], w[1], bias[1], 1e-5, x[1]);
      expectClose(...(await readBoth(x)), 1e-5, 1e-6);
    });

    for (const kind of ['silu', 'relu', 'gelu', 'gelu_tanh'] as Activation[]) {
      it(`activation ${kind}, out of place and in place, with large inputs`, async () => {
        const be = backend();
        const random = rng(13);
        const x = vecs(Float32Array.from([...randomArray(n, random, 6), 30, -30, 100, -100]));
        const out = both((b) => b.createVector(n + 4));
        be.activation(kind, x[0], out[0]);
        ref.activation(kind, x[1], out[1]);
        expectClose(...(await readBoth(out)), 1e-5, 1e-6);
        be.activation(kind, x[0], x[0]);
        expectClose(await be.read(x[0]), await ref.read(out[1]), 1e-5, 1e-6);
      });
    }

    it('rope at several positions (rotate_half layout)', async () => {
      const be = backend();
      const random = rng(14);
      const headDim = 16;
      const invFreq = Float64Array.from({length: headDim / 2}, (_, i) => Math.fround(1 / 10000 ** ((2 * i) / headDim)));
      const table = {headDim, invFreq};
      for (const [nHeads, pos] of [
        [4, 0],
        [4, 1],
        [2, 1],
        [4, 1],
        [3, 517],
      ] as const) {
        const x = vecs(randomArray(nHeads * headDim, random));
        be.rope(x[0], nHeads, pos, table);
        ref.rope(x[1], nHeads, pos, table);
        expectClose(...(await readBoth(x)), 1e-5, 1e-6);
      }
    });
  });

  describe(`${name}: row blocks`, () => {
    const n = 7;
    const len = 64; // 4 heads of 16
    for (const layout of ['block', 'scattered'] as const) {
      /** n vectors holding data: one createVectors block, or n separate vectors. */
      const rowsOf = (b: Backend, data: Float32Array[], length = len): Vec[] => {
        const vs = layout === 'block' ? b.createVectors(data.length, length) : data.map(() => b.createVector(length));
        vs.forEach((v, i) => b.write(v, data[i]!));
        return vs;
      };
      const expectRows = async (got: Vec[], want: Vec[], rel: number, abs = 0): Promise<void> => {
        for (let i = 0; i < got.length; i++) expectClose(await backend().read(got[i]!), await ref.read(want[i]!), rel, abs);
      };

      it(`norms, activations, sums, products and RoPE over ${n} rows (${layout}) equal the per-row reference`, async () => {
        const be = backend();
        const random = rng(21);
        const data = () => Array.from({length: n}, () => randomArray(len, random, 3));
        const [a, c] = [data(), data()];
        const [xs, rxs] = [rowsOf(be, a), rowsOf(ref, a)];
        const [ys, rys] = [rowsOf(be, c), rowsOf(ref, c)];
        const [outs, routs] = [rowsOf(be, data()), rowsOf(ref, data())];
        const w = vecs(randomArray(len, random));
        const bias = vecs(randomArray(len, random));
        be.rmsNormRows(xs, w[0], 1e-5, outs);
        ref.rmsNormRows(rxs, w[1], 1e-5, routs);
        await expectRows(outs, routs, 1e-5, 1e-6);
        be.layerNormRows(xs, w[0], bias[0], 1e-5, xs);
        ref.layerNormRows(rxs, w[1], bias[1], 1e-5, rxs);
        await expectRows(xs, rxs, 1e-5, 1e-6);
        for (const kind of ['silu', 'relu', 'gelu', 'gelu_tanh'] as Activation[]) {
          be.activationRows(kind, ys, outs);
          ref.activationRows(kind, rys, routs);
          await expectRows(outs, routs, 1e-5, 1e-6);
        }
        be.addRows(xs, ys, ys);
        ref.addRows(rxs, rys, rys);
        be.mulRows(ys, outs, outs);
        ref.mulRows(rys, routs, routs);
        await expectRows(outs, routs, 1e-5, 1e-6);
        const headDim = 16;
        const invFreq = Float64Array.from({length: headDim / 2}, (_, i) => Math.fround(1 / 10000 ** ((2 * i) / headDim)));
        const positions = [0, 3, 1, 517, 2, 2, 40];
        be.ropeRows(outs, 4, positions, {headDim, invFreq});
        ref.ropeRows(routs, 4, positions, {headDim, invFreq});
        await expectRows(outs, routs, 1e-5, 1e-6);
      });

      it(`matvecBatch (f32, f16, bf16, bias) and attentionRows over ${n} rows (${layout}) equal the per-row reference`, async () => {
        const be = backend();
        const random = rng(22);
        const [rows, cols] = [37, 48];
        const xd = Array.from({length: n}, () => randomArray(cols, random));
        const [xs, rxs] = [rowsOf(be, xd, cols), rowsOf(ref, xd, cols)];
        for (const dtype of ['f32', 'f16', 'bf16'] as const) {
          const w = mats(randomMatrix(dtype, rows, cols, random));
          const bias = vecs(randomArray(rows, random));
          const zeros = Array.from({length: n}, () => new Float32Array(rows));
          const [outs, routs] = [rowsOf(be, zeros, rows), rowsOf(ref, zeros, rows)];
          be.matvecBatch(w[0], xs, outs, bias[0]);
          ref.matvecBatch(w[1], rxs, routs, bias[1]);
          for (let i = 0; i < n; i++) expectClose(await be.read(outs[i]!), await ref.read(routs[i]!), 1e-5);
        }
        // attention: 3 positions one by one, then the block at positions 3 .. 3 + n - 1
        const shape = {nHeads: 4, nKvHeads: 2, headDim: 16};
        const caches = both((b) => b.createKvCache({nLayers: 2, nKvHeads: 2, headDim: 16, maxSeqLen: 3 + n}));
        const one = (size: number) => vecs(randomArray(size, random, 2));
        for (let pos = 0; pos < 3; pos++) {
          const [q, k, v, o] = [one(64), one(32), one(32), one(64)];
          be.attention(q[0], k[0], v[0], caches[0], 1, pos, shape, o[0]);
          ref.attention(q[1], k[1], v[1], caches[1], 1, pos, shape, o[1]);
        }
        const block = (size: number) => {
          const d = Array.from({length: n}, () => randomArray(size, random, 2));
          return [rowsOf(be, d, size), rowsOf(ref, d, size)] as const;
        };
        const [q, k, v, o] = [block(64), block(32), block(32), block(64)];
        be.attentionRows(q[0], k[0], v[0], caches[0], 1, 3, shape, o[0]);
        ref.attentionRows(q[1], k[1], v[1], caches[1], 1, 3, shape, o[1]);
        await expectRows(o[0], o[1], 1e-5, 1e-6);
        const [got, want] = [await be.readKvCache(caches[0], 1, 3 + n), await ref.readKvCache(caches[1], 1, 3 + n)];
        expect(Array.from(got.keys)).toEqual(Array.from(want.keys));
        expect(Array.from(got.values)).toEqual(Array.from(want.values));
        be.releaseKvCache(caches[0]);
        expect(() => be.attention(q[0][0]!, k[0][0]!, v[0][0]!, caches[0], 1, 0, shape, o[0][0]!)).toThrow(/released/);
      });
    }
  });

  describe(`${name}: attention`, () => {
    const steps = 40;
    for (const [nHeads, nKvHeads, headDim] of [
      [8, 2, 16],
      [4, 4, 8],
      [6, 1, 32],
      [3, 3, 6], // headDim not a multiple of the unroll width
    ] as const) {
      it(`attention nHeads ${nHeads}, nKvHeads ${nKvHeads}, headDim ${headDim}: ${steps} causal steps on 2 layers`, async () => {
        const be = backend();
        const random = rng(nHeads * 100 + nKvHeads);
        const shape = {nHeads, nKvHeads, headDim};
        const caches = both((b) => b.createKvCache({nLayers: 2, nKvHeads, headDim, maxSeqLen: steps}));
        const out = both((b) => b.createVector(nHeads * headDim));
        for (let pos = 0; pos < steps; pos++) {
          for (let layer = 0; layer < 2; layer++) {
            const q = vecs(randomArray(nHeads * headDim, random, 2));
            const k = vecs(randomArray(nKvHeads * headDim, random, 2));
            const v = vecs(randomArray(nKvHeads * headDim, random));
            be.attention(q[0], k[0], v[0], caches[0], layer, pos, shape, out[0]);
            ref.attention(q[1], k[1], v[1], caches[1], layer, pos, shape, out[1]);
            expectClose(...(await readBoth(out)), 1e-5, 1e-6);
          }
        }
        const q = be.createVector(nHeads * headDim);
        const k = be.createVector(nKvHeads * headDim);
        expect(() => be.attention(q, k, k, caches[0], 0, steps, shape, out[0])).toThrow(new RegExp(`position ${steps} outside the cache`));
      });
    }
  });
}
