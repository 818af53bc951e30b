/**
 * Backend.topK on every backend against topKIndices (the host order: value descending, ties to the
 * lower index, NaN as -Infinity): crafted ties, signed zeros and infinities, k = 0, 1, n and above
 * n, k above the webgpu chunk sizes, random data of several sizes up to a 128256 vocabulary, and
 * topK of a vector that queued kernels have just written. webgpu runs with the adapter's default
 * (on llvmpipe: read and select on the host) and with the GPU kernels forced in four local-stage
 * shapes: a GPU's (256 threads, 1024 entries a chunk, bitonic sort with barriers), llvmpipe's
 * (one thread, 2048 entries, serial select), and two small ones that need many merge rounds.
 */
import {afterAll, describe, expect, it} from 'vitest';
import type {Backend} from '../../../src/core/backends/backend.js';
import {createBackend} from '../../../src/core/backends/index.js';
import {ReferenceBackend} from '../../../src/core/backends/reference/reference-backend.js';
import {topKIndices} from '../../../src/core/numeric/select.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {randomArray, rng} from './tfjs/helpers.js';

const opened: Backend[] = [];
afterAll(() => {
  for (const b of opened.splice(0)) b.dispose();
  disposeWebGpu();
});

const BACKENDS: Array<[string, () => Promise<Backend>, boolean]> = [
  ['reference', async () => new ReferenceBackend(), false],
  ['cpu', () => createBackend('cpu', {threads: 2}), false],
  ['tfjs', () => createBackend('tfjs', {onWarning: () => {}}), false],
  ['webgpu', () => openWebGpu(), SKIP_WEBGPU],
  ['webgpu kernels, 256 threads, 1024 a chunk', () => openWebGpu({hostTopK: false, topKThreads: 256, topKChunk: 1024}), SKIP_WEBGPU],
  ['webgpu kernels, 1 thread, 2048 a chunk', () => openWebGpu({hostTopK: false, topKThreads: 1, topKChunk: 2048}), SKIP_WEBGPU],
  ['webgpu kernels, 8 threads, 16 a chunk', () => openWebGpu({hostTopK: false, topKThreads: 8, topKChunk: 16}), SKIP_WEBGPU],
  ['webgpu kernels, 1 thread, 16 a chunk', () => openWebGpu({hostTopK: false, topKThreads: 1, topKChunk: 16}), SKIP_WEBGPU],
];

/** Crafted inputs: [name, values, the k to try]. */
const CRAFTED: Array<[string, number[], number[]]> = [
  ['ties', [3, 1, 3, 2, 3, 2, 1, 3, 2, 3], [1, 2, 3, 4, 5, 6, 7, 10]],
  ['all equal', Array.from({length: 100}, () => 0.5), [1, 37, 100]],
  ['signed zeros and infinities', [0, -0, -Infinity, 5, -0, Infinity, 0, -Infinity, -5, Infinity], [1, 2, 4, 7, 10]],
  ['NaN ranks as -Infinity', [NaN, 1, -Infinity, NaN, -2, -Infinity, 3], [2, 4, 5, 7]],
  ['one entry', [-7], [1]],
];

/** Random sizes and ks: some k above every chunk size, k = n, k above n. */
const RANDOM: Array<[number, number[]]> = [
  [33, [1, 16, 33, 40]],
  [1000, [1, 17, 500, 1000]],
  [4097, [1, 1025, 2048, 4097]],
  [32000, [1, 512, 2048]],
  [128256, [4096]],
];

async function expectTopK(b: Backend, x: Float32Array, k: number): Promise<void> {
  const got = await b.topK(b.uploadVector(x), k);
  const want = topKIndices(x, k);
  expect(Array.from(got.ids)).toEqual(Array.from(want));
  expect(Array.from(got.values)).toEqual(Array.from(want, (i) => x[i]!));
}

for (const [name, open, skip] of BACKENDS) {
  describe.skipIf(skip)(`${name}: topK`, () => {
    let b: Backend;

    it('starts', async () => {
      b = await open();
      if (!name.startsWith('webgpu')) opened.push(b);
    });

    for (const [what, values, ks] of CRAFTED) {
      it(`${what}: k = ${ks.join(', ')}`, async () => {
        const x = Float32Array.from(values);
        for (const k of ks) await expectTopK(b, x, k);
      });
    }

    it('k = 0 (and below) is empty; a fractional k is rounded down', async () => {
      const x = Float32Array.from([1, 2, 3]);
      for (const k of [0, -3]) {
        const r = await b.topK(b.uploadVector(x), k);
        expect([r.ids.length, r.values.length]).toEqual([0, 0]);
      }
      expect(Array.from((await b.topK(b.uploadVector(x), 2.7)).ids)).toEqual([2, 1]);
    });

    for (const [n, ks] of RANDOM) {
      it(`random data, n = ${n}: k = ${ks.join(', ')}, continuous and with many ties`, async () => {
        const random = rng(n);
        const x = randomArray(n, random, 4);
        const coarse = x.map((v) => Math.round(v * 4) / 4); // about 33 distinct values
        for (const k of ks) {
          await expectTopK(b, x, k);
          await expectTopK(b, coarse, k);
        }
      });
    }

    it('sees the result of kernels queued before it', async () => {
      const random = rng(5);
      const [a, c] = [randomArray(3000, random), randomArray(3000, random)];
      const out = b.createVector(3000);
      b.add(b.uploadVector(a), b.uploadVector(c), out);
      const sum = a.map((v, i) => Math.fround(v + c[i]!));
      const got = await b.topK(out, 100);
      expect(Array.from(got.ids)).toEqual(Array.from(topKIndices(sum, 100)));
    });
  });
}

describe.skipIf(SKIP_WEBGPU)('webgpu: topK options', () => {
  it('rejects a local shape that is not powers of two with chunk >= 2 * threads (<= 4096 for one)', async () => {
    await expect(openWebGpu({topKThreads: 3})).rejects.toThrow(/powers of two/);
    await expect(openWebGpu({topKThreads: 64, topKChunk: 64})).rejects.toThrow(/topKChunk >= 2 \* topKThreads/);
    await expect(openWebGpu({topKThreads: 1, topKChunk: 8192})).rejects.toThrow(/<= 4096 with one thread/);
  });
});
