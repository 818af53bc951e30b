import {describe, expect, it} from 'vitest';
import {
  candidateRecall,
  datCandidates,
  datListSize,
  datTopK,
  exactTopK,
  localTopK,
  mergeTopK,
  sliceValues,
  softmaxBytes,
} from '../../../src/core/parallel/dat-top-k.js';
import {vocabSlices} from '../../../src/core/parallel/shard-plan.js';
import {topKIndices} from '../../../src/core/numeric/select.js';
import {rng} from '../../helpers/random.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('DaT merge', () => {
  it('merges (id, value) lists by value, ties to the lower id, NaN last', () => {
    const merged = mergeTopK(
      [
        {ids: Int32Array.from([3, 1]), values: f32([5, 2])},
        {ids: Int32Array.from([9, 0, 7]), values: f32([5, NaN, -Infinity])},
      ],
      10,
    );
    expect(Array.from(merged.ids)).toEqual([3, 9, 1, 7, 0]);
    expect(Array.from(merged.values.subarray(0, 4))).toEqual([5, 5, 2, -Infinity]);
    expect(mergeTopK([{ids: Int32Array.from([3, 1]), values: f32([5, 2])}], 1).ids).toEqual(Int32Array.from([3]));
  });

  it('local top lists long enough give exactly the global top-k', () => {
    const rand = rng(3);
    const x = Float32Array.from({length: 1000}, () => rand());
    for (const layout of ['contiguous', 'strided'] as const) {
      const lists = vocabSlices(1000, 4, layout).map((s) => localTopK(sliceValues(x, s), s, 20));
      expect(Array.from(mergeTopK(lists, 20).ids)).toEqual(Array.from(topKIndices(x, 20)));
    }
  });

  it('loses recall when the whole top-k sits in one shard, and the slack recovers it', () => {
    // 16 ids on 2 contiguous devices; the 4 best exact (and approximate) scores are all in shard 0.
    const scores = f32([9, 8, 7, 6, 0, 0, 0, 0, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
    const exact = scores.slice();
    const shards = vocabSlices(16, 2, 'contiguous');
    const top4 = topKIndices(exact, 4);
    const kPrime = 4;
    // slack 0: each device sends ceil(4/2) = 2, so only 2 of the top 4 survive
    const m0 = datListSize(kPrime, 2, 0, 8);
    expect(m0).toBe(2);
    expect(candidateRecall(datCandidates(scores, shards, m0), top4)).toBe(0.5);
    expect(candidateRecall(datTopK(scores, exact, shards, m0, kPrime).ids, top4)).toBe(0.5);
    // single-device HiRE (exact top-k') has them all
    expect(candidateRecall(exactTopK(scores, exact, kPrime, kPrime).ids, top4)).toBe(1);
    // slack 2: each device sends 4, recall is back to 1 and the merged top-4 is the exact one
    const m2 = datListSize(kPrime, 2, 2, 8);
    expect(candidateRecall(datCandidates(scores, shards, m2), top4)).toBe(1);
    expect(Array.from(datTopK(scores, exact, shards, m2, kPrime).ids)).toEqual(Array.from(top4));
  });

  it('strided shards spread a top-k of low ids, but a top-k in one residue class needs the slack too', () => {
    const low = f32([9, 8, 7, 6, 0, 0, 0, 0, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
    const strided = vocabSlices(16, 2, 'strided');
    expect(candidateRecall(datCandidates(low, strided, 2), topKIndices(low, 4))).toBe(1);
    // the best four at even ids 0, 2, 4, 6: all on device 0
    const even = f32([9, 0, 8, 0, 7, 0, 6, 0, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]);
    const top4 = topKIndices(even, 4);
    expect(candidateRecall(datCandidates(even, strided, datListSize(4, 2, 0, 8)), top4)).toBe(0.5);
    expect(candidateRecall(datCandidates(even, strided, datListSize(4, 2, 2, 8)), top4)).toBe(1);
  });

  it('never sends more than a shard holds', () => {
    expect(datListSize(512, 4, 64, 100)).toBe(100);
    expect(datListSize(512, 4, 64, 32000)).toBe(192);
  });
});

describe('bytes moved by the output layer', () => {
  it('DaT moves at least 10x fewer bytes than exact at V = 32000', () => {
    for (const devices of [2, 4, 8]) {
      const listSize = datListSize(512, devices, Math.ceil(0.25 * Math.ceil(512 / devices)), 32000 / devices);
      const exact = softmaxBytes('exact', {vocabSize: 32000, kPrime: 512, devices, listSize});
      const dat = softmaxBytes('dat', {vocabSize: 32000, kPrime: 512, devices, listSize});
      expect(exact).toBe(4 * 32000 + 8 * 512);
      expect(exact / dat).toBeGreaterThanOrEqual(10);
    }
  });
});
