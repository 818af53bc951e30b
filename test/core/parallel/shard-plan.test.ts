import {describe, expect, it} from 'vitest';
import {makeShardPlan, rangeIds, rangeSize, sliceIds, sliceLocal, splitEven} from '../../../src/core/parallel/shard-plan.js';

describe('shard plan', () => {
  it('splits evenly and covers every index once', () => {
    for (const [n, parts] of [[10, 3], [32000, 4], [3, 4], [7, 1]] as const) {
      const r = splitEven(n, parts);
      expect(r).toHaveLength(parts);
      expect(r[0]!.start).toBe(0);
      expect(r[parts - 1]!.end).toBe(n);
      r.forEach((x, i) => i > 0 && expect(x.start).toBe(r[i - 1]!.end));
      const sizes = r.map(rangeSize);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('gives each device whole KV-head groups with their query heads (GQA)', () => {
    const plan = makeShardPlan({vocabSize: 32000, hiddenDim: 2048, nHeads: 12, nKvHeads: 4}, 2);
    expect(plan.shards.map((s) => s.kvHeads)).toEqual([{start: 0, end: 2}, {start: 2, end: 4}]);
    expect(plan.shards.map((s) => s.heads)).toEqual([{start: 0, end: 6}, {start: 6, end: 12}]);
    expect(plan.shards.map((s) => s.vocab)).toEqual([{start: 0, stride: 2, count: 16000}, {start: 1, stride: 2, count: 16000}]);
    expect(plan.shards.map((s) => s.ffn)).toEqual([[{start: 0, end: 1024}], [{start: 1024, end: 2048}]]);
    expect(plan.notes).toEqual([]);
  });

  it('splits the vocabulary strided (default) or in contiguous slices, every id once', () => {
    for (const layout of ['strided', 'contiguous'] as const) {
      const plan = makeShardPlan({vocabSize: 10, hiddenDim: 8, nHeads: 1, nKvHeads: 1}, 3, {vocabLayout: layout});
      const ids = plan.shards.flatMap((s) => Array.from(sliceIds(s.vocab)));
      expect(ids.sort((a, b) => a - b)).toEqual(Array.from({length: 10}, (_, i) => i));
      for (const s of plan.shards) sliceIds(s.vocab).forEach((id, i) => expect(sliceLocal(s.vocab, id)).toBe(i));
    }
    const strided = makeShardPlan({vocabSize: 10, hiddenDim: 8, nHeads: 1, nKvHeads: 1}, 3).shards.map((s) => Array.from(sliceIds(s.vocab)));
    expect(strided).toEqual([[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
    expect(sliceLocal({start: 1, stride: 3, count: 3}, 5)).toBe(-1);
    expect(sliceLocal({start: 1, stride: 3, count: 3}, 10)).toBe(-1);
  });

  it('leaves devices past nKvHeads without heads, and says so', () => {
    const plan = makeShardPlan({vocabSize: 100, hiddenDim: 64, nHeads: 8, nKvHeads: 2}, 4);
    expect(plan.shards.map((s) => rangeSize(s.heads))).toEqual([4, 4, 0, 0]);
    expect(plan.notes[0]).toMatch(/devices 2\.\.3 hold no attention heads/);
  });

  it('keeps FFN groups whole and spreads static groups over the devices', () => {
    // 16 neurons in groups of 2 = 8 groups, the first 4 static
    const plan = makeShardPlan({vocabSize: 10, hiddenDim: 16, nHeads: 2, nKvHeads: 2}, 2, {ffnGroupSize: 2, staticGroups: 4});
    expect(plan.shards[0]!.ffn).toEqual([{start: 0, end: 4}, {start: 8, end: 12}]);
    expect(plan.shards[1]!.ffn).toEqual([{start: 4, end: 8}, {start: 12, end: 16}]);
    const all = [...rangeIds(plan.shards[0]!.ffn), ...rangeIds(plan.shards[1]!.ffn)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({length: 16}, (_, i) => i));
    for (const s of plan.shards) for (const r of s.ffn) expect(r.start % 2 + r.end % 2).toBe(0);
  });

  it('strided FFN groups: whole groups, every neuron once, each layer\'s static groups spread evenly', () => {
    // the demo bundle's shape: 512 neurons in groups of 8, static counts differ per layer
    const g = 8;
    for (const devices of [2, 3, 4]) {
      const plan = makeShardPlan({vocabSize: 10, hiddenDim: 512, nHeads: 4, nKvHeads: 4}, devices, {ffnGroupSize: g, ffnLayout: 'strided'});
      expect(plan.ffnLayout).toBe('strided');
      const all = plan.shards.flatMap((s) => Array.from(rangeIds(s.ffn))).sort((a, b) => a - b);
      expect(all).toEqual(Array.from({length: 512}, (_, i) => i));
      for (const s of plan.shards) for (const r of s.ffn) expect(r.start % g + r.end % g).toBe(0);
      for (const nStatic of [16, 3, 17, 25, 0, 64]) {
        const counts = plan.shards.map((s) => Array.from(rangeIds(s.ffn)).filter((n) => n % g === 0 && n / g < nStatic).length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(counts.reduce((a, b) => a + b, 0)).toBe(nStatic);
      }
    }
    // one device: one range
    expect(makeShardPlan({vocabSize: 10, hiddenDim: 16, nHeads: 1, nKvHeads: 1}, 1, {ffnGroupSize: 4, ffnLayout: 'strided'}).shards[0]!.ffn).toEqual([{start: 0, end: 16}]);
  });

  it('rejects a group size that does not divide the FFN', () => {
    expect(() => makeShardPlan({vocabSize: 10, hiddenDim: 10, nHeads: 1, nKvHeads: 1}, 2, {ffnGroupSize: 4})).toThrow(/divide/);
  });
});
