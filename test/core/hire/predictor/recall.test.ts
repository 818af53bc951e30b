import {describe, expect, it} from 'vitest';
import {createRng} from '../../../../src/core/numeric/rng.js';
import {topKIndices} from '../../../../src/core/numeric/select.js';
import {gaussianMatrix} from '../../../../src/core/numeric/linalg.js';
import {fitLowRankSvd, lowRankLogits, lowRankRowErrors} from '../../../../src/core/hire/predictor/fit-lowrank.js';
import {certifiedTopK, chooseKPrime, defaultKPrimeGrid, recallAtK, recallCurve} from '../../../../src/core/hire/predictor/recall.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('recallAtK', () => {
  // exact top-3 = {0, 1, 2}; approx order: 3, 0, 4, 1, 5, 2.
  const exact = f32([9, 8, 7, 1, 0, -1]);
  const approx = f32([5, 3, 1, 6, 4, 2]);

  it('counts the exact top-k inside the approximate top-k\'', () => {
    expect(recallAtK(exact, approx, 3, 1)).toBe(0);
    expect(recallAtK(exact, approx, 3, 2)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(exact, approx, 3, 4)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(exact, approx, 3, 6)).toBe(1);
    expect(recallAtK(exact, approx, 1, 2)).toBe(1);
    expect(recallAtK(exact, exact, 3, 3)).toBe(1);
  });

  it('breaks ties by lower index, like topKIndices', () => {
    expect(recallAtK(f32([0, 0, 0, 5]), f32([1, 1, 1, 1]), 2, 2)).toBe(0.5); // exact {3, 0}; approx {0, 1}
  });
});

describe('recallCurve and chooseKPrime', () => {
  const pairs = [
    {exact: f32([9, 8, 7, 1, 0, -1]), approx: f32([5, 3, 1, 6, 4, 2])}, // approx rank of exact top-3: 1, 3, 5
    {exact: f32([9, 8, 7, 1, 0, -1]), approx: f32([9, 8, 7, 1, 0, -1])}, // perfect
  ];
  const table = recallCurve(pairs, [1, 3], [1, 2, 4, 6]);

  it('averages recall over tokens and counts full recall', () => {
    expect(table.tokens).toBe(2);
    // k = 1: token 0 needs k' >= 2; token 1 always.
    expect(table.mean[0]).toEqual([0.5, 1, 1, 1]);
    expect(table.full[0]).toEqual([0.5, 1, 1, 1]);
    // k = 3: token 0 recall 0, 1/3, 2/3, 1; token 1: 1/3, 2/3, 1, 1.
    const expected = [(0 + 1 / 3) / 2, (1 / 3 + 2 / 3) / 2, (2 / 3 + 1) / 2, 1];
    table.mean[1].forEach((v, b) => expect(v).toBeCloseTo(expected[b], 12));
    expect(table.full[1]).toEqual([0, 0, 0.5, 1]);
    // Same numbers as recallAtK per token.
    pairs.forEach(({exact, approx}) => expect(recallAtK(exact, approx, 3, 4)).toBeGreaterThan(0));
  });

  it('chooseKPrime picks the smallest k\' meeting the mean target, null when none', () => {
    expect(chooseKPrime(table, 1, 0.99)).toBe(2);
    expect(chooseKPrime(table, 1, 0.5)).toBe(1);
    expect(chooseKPrime(table, 3, 0.8)).toBe(4);
    expect(chooseKPrime(table, 3, 1)).toBe(6);
    const short = recallCurve(pairs, [3], [1, 2]);
    expect(chooseKPrime(short, 3, 0.9)).toBeNull();
    expect(() => chooseKPrime(table, 2, 0.9)).toThrow(/not measured/);
  });

  it('defaultKPrimeGrid: ascending powers of two and 1.5x steps ending at vocabSize', () => {
    expect(defaultKPrimeGrid(100)).toEqual([8, 12, 16, 24, 32, 48, 64, 96, 100]);
    expect(defaultKPrimeGrid(100, 20)).toEqual([24, 32, 48, 64, 96, 100]);
    expect(defaultKPrimeGrid(6)).toEqual([6]);
  });
});

/** A random problem: W [vocab, dim], hidden states, exactRows with a call log. */
function problem(vocab: number, dim: number, seedOrW: number | Float32Array) {
  const w = typeof seedOrW === 'number' ? Float32Array.from(gaussianMatrix(vocab * dim, seedOrW)) : seedOrW;
  const rowsRead: number[] = [];
  const exactRows = (h: Float32Array) => (ids: Int32Array) => {
    rowsRead.push(ids.length);
    return Float32Array.from(ids, (id) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += w[id * dim + j] * h[j];
      return s;
    });
  };
  const dense = (h: Float32Array) => exactRows(h)(Int32Array.from({length: vocab}, (_, i) => i));
  return {w, rowsRead, exactRows, dense};
}

/** The first k returned candidates (they come sorted by exact logit, ties by lower id), checked sorted. */
function candidatesTopK(ids: Int32Array, logits: Float32Array, k: number): number[] {
  for (let j = 1; j < logits.length; j++) {
    expect(logits[j] < logits[j - 1] || (logits[j] === logits[j - 1] && ids[j] > ids[j - 1])).toBe(true);
  }
  return Array.from(ids.subarray(0, k));
}

describe('certifiedTopK', () => {
  it('returns exactly the dense top-k with a good low-rank predictor, reading far fewer than vocabSize rows', async () => {
    const vocab = 500, dim = 32, k = 5, rank = 8;
    // W = low-rank structure + small noise: the predictor is good but not exact.
    const x = gaussianMatrix(vocab * rank, 1);
    const y = gaussianMatrix(rank * dim, 2);
    const noise = gaussianMatrix(vocab * dim, 3);
    const w = Float32Array.from({length: vocab * dim}, (_, i) => {
      const r = Math.floor(i / dim), c = i % dim;
      let s = 0.01 * noise[i];
      for (let t = 0; t < rank; t++) s += x[r * rank + t] * y[t * dim + c];
      return s;
    });
    const {exactRows, dense} = problem(vocab, dim, w);
    const lr = fitLowRankSvd(w, vocab, dim, rank, 3);
    const e = lowRankRowErrors(w, lr);
    const rng = createRng(4);
    for (let trial = 0; trial < 20; trial++) {
      const h = Float32Array.from(gaussianMatrix(dim, 100 + trial), (v) => v * (1 + rng()));
      const hNorm = Math.hypot(...h);
      const res = await certifiedTopK(lowRankLogits(lr, h), e, hNorm, k, 16, exactRows(h));
      expect(res.certified).toBe(true);
      expect(res.ids.length).toBe(res.kPrime);
      expect(res.kPrime).toBeLessThanOrEqual(64);
      expect(candidatesTopK(res.ids, res.logits, k)).toEqual(Array.from(topKIndices(dense(h), k)));
    }
  });

  it('widens when the predictor is bad (reports widened > 0), reuses computed rows, and stays exact', async () => {
    const vocab = 400, dim = 16, k = 3;
    const {w, rowsRead, exactRows, dense} = problem(vocab, dim, 2);
    const h = Float32Array.from(gaussianMatrix(dim, 5));
    const hNorm = Math.hypot(...h);
    // Adversarial predictor: approximate logits are the negated exact ones; error norms make it honest.
    const z = dense(h);
    const approx = Float32Array.from(z, (v) => -v);
    const e = Float32Array.from({length: vocab}, (_, i) => {
      let n2 = 0;
      for (let j = 0; j < dim; j++) n2 += w[i * dim + j] ** 2;
      return 2 * Math.sqrt(n2); // ||W_i - (-W_i)||
    });
    rowsRead.length = 0;
    const res = await certifiedTopK(approx, e, hNorm, k, 4, exactRows(h));
    expect(res.certified).toBe(true);
    expect(res.widened).toBeGreaterThan(0);
    expect(res.kPrime).toBe(Math.min(vocab, 4 * 2 ** res.widened));
    expect(candidatesTopK(res.ids, res.logits, k)).toEqual(Array.from(topKIndices(z, k)));
    expect(rowsRead.reduce((a, b) => a + b, 0)).toBe(res.kPrime); // each row read once
    expect(new Set(res.ids).size).toBe(res.ids.length);
  });

  it('a useless bound (huge error norms) widens all the way to vocabSize and is then trivially exact', async () => {
    const vocab = 100, dim = 8, k = 2;
    const {exactRows, dense} = problem(vocab, dim, 3);
    const h = Float32Array.from(gaussianMatrix(dim, 6));
    const res = await certifiedTopK(new Float32Array(vocab), new Float32Array(vocab).fill(1e6), 1, k, 8, exactRows(h));
    expect(res.kPrime).toBe(vocab);
    expect(res.widened).toBe(4); // 8 -> 16 -> 32 -> 64 -> 100
    expect(res.certified).toBe(true);
    expect(candidatesTopK(res.ids, res.logits, k)).toEqual(Array.from(topKIndices(dense(h), k)));
  });

  it('maxKPrime caps the widening and then reports certified = false', async () => {
    const vocab = 100, dim = 8;
    const {exactRows} = problem(vocab, dim, 4);
    const h = Float32Array.from(gaussianMatrix(dim, 7));
    const res = await certifiedTopK(new Float32Array(vocab), new Float32Array(vocab).fill(1e6), 1, 2, 8, exactRows(h), {maxKPrime: 20});
    expect(res.kPrime).toBe(20);
    expect(res.certified).toBe(false);
  });

  it('ties among candidates break by lower id whatever the bound order', async () => {
    const exact = f32([1, 5, 5, 0]);
    const rows = (ids: Int32Array) => Float32Array.from(ids, (i) => exact[i]);
    const res = await certifiedTopK(f32([0, 4, 6, -9]), f32([0, 1, 0, 0]), 1, 1, 2, rows); // u order: 2, 1, 0, 3
    expect(res.certified).toBe(true);
    expect(res.widened).toBe(0);
    expect(Array.from(res.ids)).toEqual([1, 2]);
    expect(res.ids[0]).toBe(topKIndices(exact, 1)[0]);
  });

  it('equality with the threshold does not certify (strict test), a margin is honoured', async () => {
    // Exact logits: 0 -> 5, 1 -> 1, 2 -> 1 (a tie with the non-candidate bound).
    const exact = f32([5, 1, 1]);
    const rows = (ids: Int32Array) => Float32Array.from(ids, (i) => exact[i]);
    const approx = f32([5, 1, 0]);
    const e = f32([0, 0, 1]); // u = [5, 1, 1]
    const strict = await certifiedTopK(approx, e, 1, 2, 2, rows);
    expect(strict.widened).toBe(1);
    expect(strict.kPrime).toBe(3);
    // Without the tie, k' = 2 suffices; a margin of 1 lifts the non-candidate's bound and forces widening.
    const looser = f32([0, 0, 0.5]);
    expect((await certifiedTopK(approx, looser, 1, 2, 2, rows)).widened).toBe(0);
    expect((await certifiedTopK(approx, looser, 1, 2, 2, rows, {margin: 1})).widened).toBe(1);
  });
});
