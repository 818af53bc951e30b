/**
 * HiRE-FFN group logic on crafted activations: scores, group selection with a static set,
 * recall by rank histogram, and the co-activation permutation.
 */
import {describe, expect, it} from 'vitest';
import {
  accumulateGroupRanks,
  ffnRecall,
  groupRows,
  groupScores,
  kPrimeForRecall,
  neuronScores,
  recallFromRanks,
  selectGroups,
  unionGroups,
} from '../../../../src/core/hire/ffn/groups.js';
import {coactivationPermutation, createActivity, identityPermutation, markActive} from '../../../../src/core/hire/ffn/permutation.js';
import {rng} from '../../../helpers/random.js';

describe('scores and selection', () => {
  it('scores relu by value, gated products and silu by magnitude', () => {
    expect(Array.from(neuronScores([-2, 3, 0.5], 'relu', false))).toEqual([0, 3, 0.5]);
    // gated: |relu(g) * u|: a negative up value still counts by magnitude
    expect(Array.from(neuronScores([1, -1, 2, /* up */ -4, 5, 0.5], 'relu', true))).toEqual([4, 0, 1]);
    // silu is scored with a fast exp: within 1.3% where |x| <= 5, and monotone
    for (const x of [-5, -3, -1, -0.2, 0.3, 2, 5]) {
      const exact = Math.abs(x / (1 + Math.exp(-x)));
      expect(Math.abs(neuronScores([x], 'silu', false)[0]! - exact)).toBeLessThanOrEqual(0.013 * exact + 1e-7);
    }
    const xs = Array.from({length: 200}, (_, i) => i / 10 - 2); // silu rises on [-1.28, inf)
    const ys = Array.from(neuronScores(xs.map((x) => Math.max(x, -1.2)), 'silu', false));
    for (let i = 1; i < ys.length; i++) if (xs[i]! > 0) expect(ys[i]!).toBeGreaterThan(ys[i - 1]!);
  });

  it('groups by max or sum', () => {
    const s = [1, 5, 2, 2, 0, 0, 9, 1];
    expect(Array.from(groupScores(s, 2, 'max'))).toEqual([5, 2, 0, 9]);
    expect(Array.from(groupScores(s, 4, 'sum'))).toEqual([10, 10]);
  });

  it('always takes the static groups, then the best dynamic ones, in ascending order', () => {
    // groups 0 and 1 static (their scores do not matter), dynamic 2..5
    const g = Float32Array.from([0, 0, 3, 9, 1, 7]);
    expect(Array.from(selectGroups(g, 2, 2))).toEqual([0, 1, 3, 5]);
    expect(Array.from(selectGroups(g, 2, 10))).toEqual([0, 1, 2, 3, 4, 5]); // k'_g past the end: every group
    expect(Array.from(selectGroups(g, 0, 1))).toEqual([3]);
    // rows of up to four groups interleaved, so that they stream side by side
    expect(Array.from(groupRows(Int32Array.from([0, 3]), 4))).toEqual([0, 12, 1, 13, 2, 14, 3, 15]);
    const five = Array.from(groupRows(Int32Array.from([0, 1, 2, 3, 9]), 2));
    expect(five).toEqual([0, 2, 4, 6, 1, 3, 5, 7, 18, 19]);
    expect([...five].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 18, 19]); // every row once
    expect(Array.from(unionGroups([Int32Array.from([0, 3]), Int32Array.from([3, 5]), Int32Array.from([1])], 6))).toEqual([0, 1, 3, 5]);
  });

  it('measures recall of every k\'_g from a rank histogram, static neurons counted at k\'_g = 0', () => {
    // 4 groups of 2; group 0 static; predicted dynamic order: group 3, group 1, group 2
    const gScores = Float32Array.from([0, 5, 1, 8]);
    const hist = new Float64Array(4);
    accumulateGroupRanks(Int32Array.from([0, 7, 3, 4]), gScores, 2, 1, hist); // groups 0, 3, 1, 2
    expect(Array.from(hist)).toEqual([1, 1, 1, 1]);
    const curve = recallFromRanks(hist);
    expect(Array.from(curve)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(kPrimeForRecall(curve, 0.75)).toBe(2);
    expect(kPrimeForRecall(curve, 1)).toBe(3);
    // the same numbers as the direct definition
    expect(ffnRecall(Int32Array.from([0, 7, 3, 4]), selectGroups(gScores, 1, 2), 2, 4)).toBe(0.75);
  });
});

describe('co-activation permutation', () => {
  it('puts neurons that fire together in one group and the always-on group first', () => {
    // 8 neurons, groups of 2. Pairs (1,6), (2,5), (0,7) fire together; neuron 3 and 4 fire on every token.
    const tokens = 40;
    const a = createActivity(8, tokens);
    for (let t = 0; t < tokens; t++) {
      const on = [3, 4];
      if (t % 3 === 0) on.push(1, 6);
      if (t % 3 === 1) on.push(2, 5);
      if (t % 5 === 0) on.push(0, 7);
      markActive(a, t, on);
    }
    const p = coactivationPermutation(a, 2, 0.9);
    const groups = Array.from({length: 4}, (_, i) => Array.from(p.perm.slice(2 * i, 2 * i + 2)).sort());
    expect(groups[0]).toEqual([3, 4]); // static, first
    expect(p.nStatic).toBe(1);
    expect(groups.slice(1)).toEqual(expect.arrayContaining([[1, 6], [2, 5], [0, 7]]));
    expect(Array.from(p.perm).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]); // a permutation
    expect(p.groupActivity[0]).toBe(1);
    // the identity order pairs neurons that do not fire together: more group activity in total
    const id = identityPermutation(a, 2, 0.9);
    const total = (x: Float64Array) => x.reduce((s, v) => s + v, 0);
    expect(total(id.groupActivity)).toBeGreaterThan(total(p.groupActivity));
  });

  it('moves static groups to the front without permuting inside the rest (identity order)', () => {
    const a = createActivity(6, 10);
    for (let t = 0; t < 10; t++) markActive(a, t, t < 9 ? [4, 1] : [1]);
    const p = identityPermutation(a, 2, 0.5); // groups {0,1} and {4,5} active on > 50%
    expect(p.nStatic).toBe(2);
    expect(Array.from(p.perm)).toEqual([0, 1, 4, 5, 2, 3]);
  });

  it('refines the greedy grouping by swaps: never more total group activity, less on unstructured data', () => {
    // 64 neurons in 8 hidden clusters that fire together, plus noise
    const tokens = 300;
    const a = createActivity(64, tokens);
    const rand = rng(9);
    for (let t = 0; t < tokens; t++) {
      const on: number[] = [];
      for (let c = 0; c < 8; c++) if (rand() < 0.2) for (let j = 0; j < 8; j++) if (rand() < 0.8) on.push(c + 8 * j);
      for (let n = 0; n < 64; n++) if (rand() < 0.05) on.push(n);
      markActive(a, t, on);
    }
    const total = (x: Float64Array) => x.reduce((s, v) => s + v, 0);
    const greedy = coactivationPermutation(a, 8, 0.99);
    const refined = coactivationPermutation(a, 8, 0.99, 5000);
    expect(total(refined.groupActivity)).toBeLessThanOrEqual(total(greedy.groupActivity));
    // on unstructured activity the greedy grouping is far from the best, and swaps find better ones
    const noisy = createActivity(64, tokens);
    for (let t = 0; t < tokens; t++) markActive(noisy, t, Array.from({length: 64}, (_, n) => n).filter((n) => rand() < 0.04 + (n % 8) * 0.01));
    expect(total(coactivationPermutation(noisy, 8, 0.99, 5000).groupActivity)).toBeLessThan(total(coactivationPermutation(noisy, 8, 0.99).groupActivity));
    expect(Array.from(refined.perm).sort((x, y) => x - y)).toEqual(Array.from({length: 64}, (_, i) => i));
    expect(coactivationPermutation(a, 8, 0.99, 5000)).toEqual(refined); // seeded: reproducible
  });

  it('rejects a group size that does not divide the neurons', () => {
    expect(() => coactivationPermutation(createActivity(10, 4), 4, 0.5)).toThrow(/group size 4 must divide the 10/);
  });
});
