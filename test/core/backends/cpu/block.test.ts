/**
 * The block kernels against float64 references: the blocked matrix-matrix product (f32, bf16, f16
 * weights; token counts and row counts that do not fill a tile; bias), storing keys and values
 * (f32 exactly, f16 rounded to nearest even), causal attention over a block of rows (GQA, any
 * headDim, f32 and f16 caches, split over threads), one row of each of several sequences in one
 * call (bit for bit each sequence alone), and the compute probe.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {attend, attendSeqs, gemm, kvHalfBytes, kvStore, measureCompute, type KvDtype, type KvLayer} from '../../../../src/core/backends/cpu/prompt-kernels.js';
import {CpuKernels, type DenseDtype} from '../../../../src/core/backends/cpu/kernels.js';
import {f32ToF16Bits} from '../../../../src/core/model/formats/safetensors/dtypes.js';
import {expectClose, f16ToF32, put, randomBf16, randomF16, randomF32, refRow, rng, weightValues} from './helpers.js';

function randomWeights(dtype: DenseDtype, n: number, rand: () => number): Float32Array | Uint16Array {
  return dtype === 'f32' ? randomF32(n, rand) : dtype === 'bf16' ? randomBf16(n, rand) : randomF16(n, rand);
}

/** Float64 causal attention of one query at position pos over cached rows [pos + 1, kvDim]. */
function refAttend(q: Float32Array, keys: Float64Array, values: Float64Array, pos: number, h: number, group: number, headDim: number, kvDim: number): Float64Array {
  const off = Math.floor(h / group) * headDim;
  const scores = new Float64Array(pos + 1);
  let max = -Infinity;
  for (let j = 0; j <= pos; j++) {
    let s = 0;
    for (let d = 0; d < headDim; d++) s += q[h * headDim + d]! * keys[j * kvDim + off + d]!;
    scores[j] = s / Math.sqrt(headDim);
    max = Math.max(max, scores[j]!);
  }
  let sum = 0;
  for (let j = 0; j <= pos; j++) sum += (scores[j] = Math.exp(scores[j]! - max));
  const out = new Float64Array(headDim);
  for (let j = 0; j <= pos; j++) for (let d = 0; d < headDim; d++) out[d] += (scores[j]! / sum) * values[j * kvDim + off + d]!;
  return out;
}

for (const threads of [1, 2]) {
  describe(`block kernels, ${threads} thread${threads > 1 ? 's' : ''}`, () => {
    let k: CpuKernels;
    beforeAll(async () => {
      k = await CpuKernels.create({threads, minParallelBytes: 0});
    });
    afterAll(() => k.dispose());

    for (const dtype of ['f32', 'bf16', 'f16'] as DenseDtype[]) {
      it(`gemm ${dtype}: every (token, row) against float64, with and without bias`, () => {
        const rand = rng(threads * 10 + dtype.length);
        for (const [rows, cols, nb] of [
          [1, 4, 1],
          [3, 8, 5],
          [67, 36, 7],
          [70, 64, 4],
          [33, 100, 9],
        ] as const) {
          const mark = k.mark();
          const w = randomWeights(dtype, rows * cols, rand);
          const xs = randomF32(nb * cols, rand);
          const bias = randomF32(rows, rand);
          const [wp, xp, bp] = [put(k, w), put(k, xs), put(k, bias)];
          const yp = k.alloc(nb * rows * 4);
          const wv = weightValues(dtype, w);
          for (const withBias of [false, true]) {
            k.f32(yp, nb * rows).fill(NaN);
            gemm(k, dtype, wp, rows, cols, xp, yp, nb, withBias ? bp : 0);
            const ys = k.f32(yp, nb * rows);
            for (let b = 0; b < nb; b++) {
              for (let r = 0; r < rows; r++) {
                const ref = refRow(wv, cols, r, xs.subarray(b * cols, (b + 1) * cols));
                if (withBias) ref.y += bias[r]!;
                expectClose(ys[b * rows + r]!, {y: ref.y, mag: ref.mag + (withBias ? Math.abs(bias[r]!) : 0)}, `[${rows}, ${cols}] x ${nb}: token ${b}, row ${r}`);
              }
            }
          }
          k.reset(mark);
        }
      });
    }

    it('gemm: a token gets the same bits whatever the block size (the last one or two tokens take other tiles)', () => {
      const rand = rng(threads * 31);
      for (const dtype of ['f32', 'bf16', 'f16'] as DenseDtype[]) {
        const [rows, cols, most] = [71, 40, 10];
        const mark = k.mark();
        const [wp, xp, bp] = [put(k, randomWeights(dtype, rows * cols, rand)), put(k, randomF32(most * cols, rand)), put(k, randomF32(rows, rand))];
        const yp = k.alloc(most * rows * 4);
        gemm(k, dtype, wp, rows, cols, xp, yp, most, bp);
        const full = k.f32(yp, most * rows).slice();
        for (let nb = 1; nb < most; nb++) {
          k.f32(yp, most * rows).fill(NaN);
          gemm(k, dtype, wp, rows, cols, xp, yp, nb, bp);
          const ys = k.f32(yp, nb * rows);
          for (let i = 0; i < nb * rows; i++) {
            if (!Object.is(ys[i], full[i])) throw new Error(`${dtype}, ${nb} tokens: token ${Math.floor(i / rows)}, row ${i % rows}: ${ys[i]} against ${full[i]} in a block of ${most}`);
          }
          expect(Number.isNaN(k.f32(yp, most * rows)[nb * rows])).toBe(true); // nothing written past the block
        }
        k.reset(mark);
      }
    });

    it('gemm refuses a column count that is not a multiple of 4', () => {
      const mark = k.mark();
      const p = k.alloc(4096);
      expect(() => gemm(k, 'f32', p, 2, 6, p, p, 2)).toThrow(/cols must be a multiple of 4, got 6/);
      k.reset(mark);
    });

    for (const dtype of ['f32', 'f16'] as KvDtype[]) {
      for (const [nHeads, nKvHeads, headDim] of [
        [4, 2, 16],
        [6, 1, 32],
        [3, 3, 6],
        [8, 8, 64],
      ] as const) {
        it(`kvStore + attend, ${dtype} cache, ${nHeads}/${nKvHeads} heads of ${headDim}: a block after a prefix, causal`, () => {
          const rand = rng(nHeads * 100 + headDim + threads);
          const mark = k.mark();
          const maxLen = 23;
          const kvDim = nKvHeads * headDim;
          const qDim = nHeads * headDim;
          const shape = {dtype, nKvHeads, headDim, maxLen};
          const half = kvHalfBytes(shape);
          const layer: KvLayer = {...shape, keys: k.alloc(half), values: k.alloc(half)};
          const keys = new Float64Array(maxLen * kvDim);
          const values = new Float64Array(maxLen * kvDim);
          // rows 0..8 stored one by one, then 9..20 as one block
          const stored = (v: number) => (dtype === 'f32' ? v : f16ToF32(f32ToF16Bits(v)));
          const blocks: Array<[number, number]> = [...Array.from({length: 9}, (_, p) => [p, 1] as [number, number]), [9, 12]];
          for (const [pos0, n] of blocks) {
            const ks = randomF32(n * kvDim, rand);
            const vs = randomF32(n * kvDim, rand);
            const qs = randomF32(n * qDim, rand).map((x) => 2 * x);
            kvStore(k, layer, put(k, ks), put(k, vs), kvDim * 4, pos0, n);
            for (let i = 0; i < n * kvDim; i++) {
              keys[pos0 * kvDim + i] = stored(ks[i]!);
              values[pos0 * kvDim + i] = stored(vs[i]!);
            }
            const outs = k.alloc(n * qDim * 4);
            attend(k, layer, {qs: put(k, qs), qStride: qDim * 4, outs, outStride: qDim * 4, n, pos0, nHeads});
            const got = k.f32(outs, n * qDim);
            for (let t = 0; t < n; t++) {
              for (let h = 0; h < nHeads; h++) {
                const want = refAttend(qs.subarray(t * qDim), keys, values, pos0 + t, h, nHeads / nKvHeads, headDim, kvDim);
                for (let d = 0; d < headDim; d++) {
                  const g = got[t * qDim + h * headDim + d]!;
                  if (!(Math.abs(g - want[d]!) <= 1e-5 * (1 + Math.abs(want[d]!)))) {
                    throw new Error(`pos ${pos0 + t}, head ${h}, lane ${d}: got ${g}, want ${want[d]}`);
                  }
                }
              }
            }
          }
          k.reset(mark);
        });
      }
    }

    for (const dtype of ['f32', 'f16'] as KvDtype[]) {
      for (const [nHeads, nKvHeads, headDim, pos0, n] of [
        [4, 2, 16, 3, 13],
        [8, 8, 64, 0, 9],
        [3, 3, 6, 2, 5],
        [6, 2, 32, 7, 2],
      ] as const) {
        it(`attend, ${dtype} cache, ${nHeads}/${nKvHeads} heads of ${headDim}: a block of ${n} rows gives each row's attention alone bit for bit`, () => {
          const rand = rng(7 * headDim + n + threads);
          const mark = k.mark();
          const maxLen = pos0 + n;
          const kvDim = nKvHeads * headDim;
          const qDim = nHeads * headDim;
          const shape = {dtype, nKvHeads, headDim, maxLen};
          const half = kvHalfBytes(shape);
          const layer: KvLayer = {...shape, keys: k.alloc(half), values: k.alloc(half)};
          kvStore(k, layer, put(k, randomF32(maxLen * kvDim, rand)), put(k, randomF32(maxLen * kvDim, rand)), kvDim * 4, 0, maxLen);
          const qs = put(k, randomF32(n * qDim, rand).map((x) => 3 * x));
          const outs = k.alloc(n * qDim * 4);
          attend(k, layer, {qs, qStride: qDim * 4, outs, outStride: qDim * 4, n, pos0, nHeads});
          const block = Array.from(k.f32(outs, n * qDim));
          const alone: number[] = [];
          const one = k.alloc(qDim * 4);
          for (let t = 0; t < n; t++) {
            attend(k, layer, {qs: qs + t * qDim * 4, qStride: qDim * 4, outs: one, outStride: qDim * 4, n: 1, pos0: pos0 + t, nHeads});
            alone.push(...k.f32(one, qDim));
          }
          expect(block).toEqual(alone);
          k.reset(mark);
        });
      }
    }

    for (const dtype of ['f32', 'f16'] as KvDtype[]) {
      for (const [nHeads, nKvHeads, headDim] of [
        [4, 2, 16],
        [3, 3, 6],
        [6, 1, 32],
      ] as const) {
        it(`attendSeqs, ${dtype} cache, ${nHeads}/${nKvHeads} heads of ${headDim}: one row of each of 5 sequences equals kvStore + attend on each alone, bit for bit`, () => {
          const rand = rng(11 * headDim + nHeads + threads);
          const mark = k.mark();
          const kvDim = nKvHeads * headDim;
          const qDim = nHeads * headDim;
          // sequences at different positions in caches of different lengths (position 0 included)
          const seqs = [
            [0, 4],
            [6, 9],
            [1, 2],
            [17, 30],
            [3, 4],
          ] as const;
          const made = seqs.map(([pos, maxLen]) => {
            const shape = {dtype, nKvHeads, headDim, maxLen};
            const half = kvHalfBytes(shape);
            const prefix = [randomF32(maxLen * kvDim, rand), randomF32(maxLen * kvDim, rand)] as const;
            const layers = [0, 1].map(() => {
              const layer: KvLayer = {...shape, keys: k.alloc(half), values: k.alloc(half)};
              if (pos > 0) kvStore(k, layer, put(k, prefix[0]), put(k, prefix[1]), kvDim * 4, 0, pos);
              return layer;
            });
            const q = put(k, randomF32(qDim, rand).map((x) => 3 * x));
            const [key, value] = [put(k, randomF32(kvDim, rand)), put(k, randomF32(kvDim, rand))];
            return {pos, half, layers, q, key, value, outs: [k.alloc(qDim * 4), k.alloc(qDim * 4)]};
          });
          // layers[0]: every sequence alone; layers[1]: one call for all of them
          for (const m of made) {
            kvStore(k, m.layers[0]!, m.key, m.value, kvDim * 4, m.pos, 1);
            attend(k, m.layers[0]!, {qs: m.q, qStride: qDim * 4, outs: m.outs[0]!, outStride: qDim * 4, n: 1, pos0: m.pos, nHeads});
          }
          attendSeqs(
            k,
            made.map((m) => m.layers[1]!),
            made.map((m) => ({q: m.q, k: m.key, v: m.value, out: m.outs[1]!, pos: m.pos})),
            nHeads,
          );
          made.forEach((m, i) => {
            expect(Array.from(k.f32(m.outs[1]!, qDim)), `sequence ${i}`).toEqual(Array.from(k.f32(m.outs[0]!, qDim)));
            // positions 0 .. pos of every kv head (the rest of a cache is never written)
            const rowBytes = headDim * (dtype === 'f16' ? 2 : 4);
            const headBytes = m.half / nKvHeads;
            for (const half of ['keys', 'values'] as const) {
              for (let g = 0; g < nKvHeads; g++) {
                const [a, b] = [m.layers[1]![half], m.layers[0]![half]].map((p) => Array.from(k.u8(p + g * headBytes, (m.pos + 1) * rowBytes)));
                expect(a, `sequence ${i} ${half}, kv head ${g}`).toEqual(b);
              }
            }
          });
          k.reset(mark);
        });
      }
    }

    it('attendSeqs: a shared cache, a position outside a cache, mixed head shapes are errors, and nothing runs', () => {
      const mark = k.mark();
      const shape = {dtype: 'f32' as const, nKvHeads: 2, headDim: 8, maxLen: 4};
      const half = kvHalfBytes(shape);
      const layer = (): KvLayer => ({...shape, keys: k.alloc(half), values: k.alloc(half)});
      const [a, b] = [layer(), layer()];
      const row = (pos: number) => ({q: k.alloc(64), k: k.alloc(64), v: k.alloc(64), out: k.alloc(64), pos});
      expect(() => attendSeqs(k, [a, a], [row(0), row(1)], 2)).toThrow(/row 1 shares a cache/);
      expect(() => attendSeqs(k, [a, b], [row(0), row(4)], 2)).toThrow(/position 4 outside the cache \(0\.\.3\)/);
      const other: KvLayer = {...shape, nKvHeads: 1, headDim: 16, keys: k.alloc(half), values: k.alloc(half)};
      expect(() => attendSeqs(k, [a, other], [row(0), row(0)], 2)).toThrow(/cache 1 holds 1 f32 kv heads of 16/);
      expect(() => attendSeqs(k, [a, b], [row(0), row(0)], 3)).toThrow(/3 query heads over 2 kv heads/);
      k.reset(mark);
    });

    it('kvStore f16 rounds to the nearest half, ties to even, overflow to inf, subnormals exact', () => {
      const mark = k.mark();
      const shape = {dtype: 'f16' as const, nKvHeads: 1, headDim: 13, maxLen: 1};
      const half = kvHalfBytes(shape);
      const layer: KvLayer = {...shape, keys: k.alloc(half), values: k.alloc(half)};
      const v = Float32Array.from([1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, 1e9, -(2 ** -24), 3 * 2 ** -26, 2 ** -25, -0, 6.1e-5, Infinity]);
      kvStore(k, layer, put(k, v), put(k, v), v.length * 4, 0, 1);
      const bits = new Uint16Array(k.u8(layer.keys, half).slice().buffer);
      expect(Array.from(bits)).toEqual(Array.from(v, (x) => f32ToF16Bits(x)));
      k.reset(mark);
    });

    it('measures a positive compute rate on every thread', () => {
      const r = measureCompute(k, {repeats: 1, seconds: 0.005});
      expect(r.threads).toBe(threads);
      expect(r.flopsPerSecond).toBeGreaterThan(1e8);
    });
  });
}
