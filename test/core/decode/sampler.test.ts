import {describe, expect, it} from 'vitest';
import {UsageError} from '../../../src/core/errors.js';
import {sample, sampleCandidates, validateSamplingOptions, type Rng, type SamplingOptions} from '../../../src/core/decode/sampler.js';
import {argmax, argsortDescending, kthLargest, topKIndices} from '../../../src/core/numeric/select.js';
import {createRng, splitmix64, xoshiro128ss} from '../../../src/core/numeric/rng.js';
import {logSoftmax, softmax} from '../../../src/core/numeric/softmax.js';

const noDraw: Rng = () => {
  throw new Error('the rng must not be drawn');
};

function randomLogits(rng: Rng, n: number, scale = 3): Float32Array {
  return Float32Array.from({length: n}, () => (rng() * 2 - 1) * scale);
}

/** Counts of `draws` samples per id. */
function histogram(n: number, draws: number, pick: () => number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < draws; i++) counts[pick()]!++;
  return counts;
}

/** Pearson chi-square of observed counts against expected probabilities (ids with p = 0 must be empty). */
function chiSquare(counts: number[], probs: ArrayLike<number>): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let chi = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = probs[i]! * total;
    if (e === 0) {
      expect(counts[i], `id ${i} has zero probability`).toBe(0);
      continue;
    }
    chi += (counts[i]! - e) ** 2 / e;
  }
  return chi;
}

// Critical values of chi-square at p = 1e-6 (df 7: 39.3, df 3: 30.7, df 2: 27.6, df 1: 23.9).
const CHI_CRIT: Record<number, number> = {1: 24, 2: 28, 3: 31, 7: 40};

const opts = (o: Partial<SamplingOptions>): SamplingOptions => ({temperature: 1, topK: 0, topP: 1, ...o});

describe('random numbers', () => {
  it('splitmix64 matches the published sequence for seed 0', () => {
    const next = splitmix64(0n);
    expect([next(), next(), next()]).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
  });

  it('xoshiro128** and createRng match a C reference for seed 42', () => {
    const sm = splitmix64(42n);
    const a = sm();
    const b = sm();
    const words = [a & 0xffffffffn, a >> 32n, b & 0xffffffffn, b >> 32n].map(Number);
    const next = xoshiro128ss(Uint32Array.from(words));
    expect(Array.from({length: 6}, next)).toEqual([1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222]);
    const rng = createRng(42);
    expect(rng()).toBeCloseTo(0.41370166815658871, 15);
    expect(rng()).toBeCloseTo(0.0039839933778147429, 15);
    expect(rng()).toBeCloseTo(0.65008370276388672, 15);
  });

  it('is reproducible per seed, differs across seeds, and stays in [0, 1)', () => {
    const seq = (seed: number) => Array.from({length: 100}, createRng(seed));
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
    expect(seq(-1)).not.toEqual(seq(1));
    const xs = Array.from({length: 100_000}, createRng(3));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => createRng(1.5)).toThrow(UsageError);
    expect(() => createRng(Number.NaN)).toThrow(UsageError);
  });
});

describe('greedy', () => {
  it('temperature 0 and topK 1 take the argmax without drawing', () => {
    const rng = createRng(1);
    for (let t = 0; t < 50; t++) {
      const logits = randomLogits(rng, 1000);
      const best = argmax(logits);
      expect(logits[best]).toBe(Math.max(...logits));
      expect(sample(logits, opts({temperature: 0}), noDraw)).toBe(best);
      expect(sample(logits, opts({temperature: 0.7, topK: 1}), noDraw)).toBe(best);
    }
  });

  it('breaks ties by the lowest id and ignores NaN', () => {
    const logits = Float32Array.of(1, 3, Number.NaN, 3, 2);
    expect(argmax(logits)).toBe(1);
    expect(sample(logits, opts({temperature: 0}), noDraw)).toBe(1);
    expect(argmax(Float32Array.of(Number.NaN, -Infinity))).toBe(1);
    expect(argmax(new Float32Array(0))).toBe(-1);
    expect(sampleCandidates([9, 4, 6], Float32Array.of(5, 5, 1), opts({temperature: 0}), noDraw)).toBe(4);
  });
});

describe('sampling distribution', () => {
  const logits = Float32Array.of(1, 0.5, 2, -1, 0, 1.5, -0.5, 0.2);
  const draws = 200_000;

  it.each([1, 0.5, 2])('matches softmax(logits / %s) (chi-square, df 7)', (temperature) => {
    const rng = createRng(11);
    const counts = histogram(8, draws, () => sample(logits, opts({temperature}), rng));
    expect(chiSquare(counts, softmax(logits, temperature))).toBeLessThan(CHI_CRIT[7]!);
  });

  it('a wrong distribution fails the same test (the bound has power)', () => {
    const rng = createRng(11);
    const counts = histogram(8, draws, () => sample(logits, opts({temperature: 1}), rng));
    expect(chiSquare(counts, softmax(logits, 1.1))).toBeGreaterThan(CHI_CRIT[7]!);
  });

  it('topK keeps only the k most likely ids, in softmax proportion', () => {
    const rng = createRng(12);
    const counts = histogram(8, draws, () => sample(logits, opts({topK: 3}), rng));
    const top = [2, 5, 0];
    const p = new Float64Array(8);
    const sub = softmax(top.map((i) => logits[i]!));
    top.forEach((id, j) => (p[id] = sub[j]!));
    expect(chiSquare(counts, p)).toBeLessThan(CHI_CRIT[2]!);
  });

  it('topP keeps the smallest nucleus reaching the mass', () => {
    // Probabilities 0.5, 0.25, 0.15, 0.1 at shuffled ids.
    const probs = [0.15, 0.5, 0.1, 0.25];
    const lp = Float32Array.from(probs, Math.log);
    const expectFor = (topP: number, kept: number[]) => {
      const rng = createRng(13);
      const counts = histogram(4, 50_000, () => sample(lp, opts({topP}), rng));
      const p = new Float64Array(4);
      const mass = kept.reduce((s, id) => s + probs[id]!, 0);
      for (const id of kept) p[id] = probs[id]! / mass;
      expect(chiSquare(counts, p)).toBeLessThan(CHI_CRIT[Math.max(1, kept.length - 1)] ?? 40);
    };
    expectFor(0.4, [1]);
    expectFor(0.49, [1]);
    expectFor(0.51, [1, 3]);
    expectFor(0.74, [1, 3]);
    expectFor(0.76, [1, 3, 0]);
    expectFor(0.95, [1, 3, 0, 2]);
    expectFor(1, [1, 3, 0, 2]);
  });

  it('topP on an exact boundary keeps just enough (equal logits: 0.25 each)', () => {
    const flat = new Float32Array(4);
    const rng = createRng(16);
    const seen = new Set(Array.from({length: 2000}, () => sample(flat, opts({topP: 0.5}), rng)));
    expect([...seen].sort()).toEqual([0, 1]); // ties in id order
  });

  it('topK and topP combine: top-k first, nucleus of the renormalised top-k', () => {
    const lp = Float32Array.from([0.4, 0.3, 0.2, 0.1], Math.log);
    // top-2 renormalised: 4/7 and 3/7; topP 0.5 keeps only id 0.
    const rng = createRng(14);
    for (let i = 0; i < 1000; i++) expect(sample(lp, opts({topK: 2, topP: 0.5}), rng)).toBe(0);
    const seen = new Set(Array.from({length: 2000}, () => sample(lp, opts({topK: 2, topP: 0.6}), rng)));
    expect([...seen].sort()).toEqual([0, 1]);
  });

  it('never picks an id whose logit is -Infinity, and prefers +Infinity', () => {
    const rng = createRng(15);
    const lp = Float32Array.of(-Infinity, 0, -Infinity, 0);
    for (let i = 0; i < 500; i++) expect([1, 3]).toContain(sample(lp, opts({}), rng));
    expect(sample(Float32Array.of(0, Infinity, 5, Infinity), opts({}), rng)).toBe(1);
  });
});

describe('sampleCandidates', () => {
  it('returns only candidate ids, in softmax proportion over their logits', () => {
    const ids = [42, 5, 17, 3];
    const logits = Float32Array.of(0.3, 1.2, -0.4, 0.9);
    const rng = createRng(21);
    const counts = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      const id = sampleCandidates(ids, logits, opts({temperature: 0.8}), rng);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([3, 5, 17, 42]);
    const chi = chiSquare(ids.map((id) => counts.get(id) ?? 0), softmax(logits, 0.8));
    expect(chi).toBeLessThan(CHI_CRIT[3]!);
  });

  it.each([
    opts({}),
    opts({temperature: 0.7, topK: 5}),
    opts({temperature: 1.3, topP: 0.9}),
    opts({temperature: 0.9, topK: 20, topP: 0.8}),
    opts({temperature: 0}),
  ])('equals sample() on the full vector when every id is a candidate (%o)', (o) => {
    const data = createRng(22);
    const n = 300;
    const identity = Int32Array.from({length: n}, (_, i) => i);
    const shuffled = Array.from(identity);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(data() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (let t = 0; t < 30; t++) {
      const logits = randomLogits(data, n);
      const permuted = Float32Array.from(shuffled, (id) => logits[id]!);
      for (let d = 0; d < 20; d++) {
        const seed = t * 100 + d;
        const expected = sample(logits, o, createRng(seed));
        expect(sampleCandidates(identity, logits, o, createRng(seed))).toBe(expected);
        expect(sampleCandidates(shuffled, permuted, o, createRng(seed))).toBe(expected);
      }
    }
  });

  it('rejects mismatched lengths and duplicate ids', () => {
    expect(() => sampleCandidates([1, 2], Float32Array.of(0), opts({}), createRng(1))).toThrow(RangeError);
    expect(() => sampleCandidates([2, 1, 2], Float32Array.of(0, 0, 0), opts({}), createRng(1))).toThrow(RangeError);
  });
});

describe('topKIndices', () => {
  /** Reference: full stable sort by value descending (NaN last), ties by lower index. */
  function reference(x: Float32Array, k: number): number[] {
    const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
    return Array.from(x.keys())
      .sort((a, b) => key(x[b]!) - key(x[a]!) || a - b)
      .slice(0, Math.max(0, k));
  }

  it('agrees with a full sort on random data with ties and NaN', () => {
    const rng = createRng(31);
    for (let t = 0; t < 40; t++) {
      const n = 1 + Math.floor(rng() * 3000);
      // Coarse values make many ties; a few NaN and infinities too.
      const x = Float32Array.from({length: n}, () => {
        const r = rng();
        if (r < 0.01) return Number.NaN;
        if (r < 0.02) return r < 0.015 ? Infinity : -Infinity;
        return Math.round((rng() * 2 - 1) * 20) / 4;
      });
      for (const k of [0, 1, 2, 7, 50, n - 1, n, n + 5]) {
        expect(Array.from(topKIndices(x, k)), `n=${n} k=${k}`).toEqual(reference(x, k));
      }
      expect(Array.from(argsortDescending(x))).toEqual(reference(x, n));
    }
  });

  it('returns the indices of the k largest, best first', () => {
    expect(Array.from(topKIndices(Float32Array.of(0.1, 5, -2, 5, 3), 3))).toEqual([1, 3, 4]);
  });

  it('agrees with a full sort on large inputs with k in the hundreds (sampled-threshold path)', () => {
    const rng = createRng(77);
    const gens: [string, (i: number, n: number) => number][] = [
      ['uniform', () => rng() * 2 - 1],
      ['gaussian-ish logits', () => (rng() + rng() + rng() - 1.5) * 8],
      ['coarse (many ties)', () => Math.round((rng() * 2 - 1) * 200) / 8],
      ['few distinct values', () => Math.floor(rng() * 5)],
      ['signed zeros at the k-th value', () => {
        const r = rng();
        if (r < 0.002) return rng() + 0.5;
        if (r < 0.012) return rng() < 0.5 ? -0 : 0;
        return -rng() - 0.01;
      }],
      ['NaN, infinities and -0', () => {
        const r = rng();
        if (r < 0.05) return Number.NaN;
        if (r < 0.07) return Infinity;
        if (r < 0.3) return -Infinity;
        if (r < 0.35) return -0;
        return rng() - 0.5;
      }],
      ['mostly NaN', () => (rng() < 0.97 ? Number.NaN : rng())],
      ['mostly -Infinity', () => (rng() < 0.99 ? -Infinity : rng())],
      ['ascending', (i) => i],
      ['descending', (i, n) => n - i],
      ['periodic with the sample stride', (i) => (i % 31 === 0 ? 100 + (i % 7) : i % 13)],
      ['one spike per 1024', (i) => (i % 1024 === 0 ? 1 : 0)],
    ];
    for (const [name, gen] of gens) {
      for (const n of [2048, 5000, 32000, 128256]) {
        const x = Float32Array.from({length: n}, (_, i) => gen(i, n));
        const full = reference(x, n);
        for (const k of [1, 40, 256, 512, Math.floor(n / 8), Math.floor(n / 8) + 1, 1000]) {
          const got = topKIndices(x, k);
          expect(got.length, `${name} n=${n} k=${k}`).toBe(Math.min(k, n));
          const want = full.slice(0, k);
          for (let j = 0; j < want.length; j++) {
            if (got[j] !== want[j]) expect(Array.from(got), `${name} n=${n} k=${k}`).toEqual(want);
          }
        }
      }
    }
  });

  it('handles views into larger buffers and fractional or out-of-range k', () => {
    const rng = createRng(5);
    const big = Float32Array.from({length: 40000}, () => rng());
    const view = big.subarray(1000, 39000);
    const want = reference(view, 300);
    expect(Array.from(topKIndices(view, 300))).toEqual(want);
    expect(Array.from(topKIndices(view, 300.7))).toEqual(want);
    expect(topKIndices(view, -3).length).toBe(0);
    expect(topKIndices(view, Number.NaN).length).toBe(0);
    expect(topKIndices(new Float32Array(0), 5).length).toBe(0);
  });
});

describe('helpers and validation', () => {
  it('softmax sums to 1 and logSoftmax is its log', () => {
    const x = Float32Array.of(1000, 999, -5, 0);
    const p = softmax(x);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const lp = logSoftmax(x);
    for (let i = 0; i < x.length; i++) expect(Math.exp(lp[i]!)).toBeCloseTo(p[i]!, 12);
  });

  it('validateSamplingOptions accepts valid options and rejects bad ones', () => {
    expect(() => validateSamplingOptions(opts({temperature: 0, topK: 0, topP: 1}))).not.toThrow();
    expect(() => validateSamplingOptions(opts({temperature: 0.7, topK: 40, topP: 0.95}))).not.toThrow();
    for (const bad of [
      opts({temperature: -0.1}),
      opts({temperature: Number.NaN}),
      opts({topK: -1}),
      opts({topK: 2.5}),
      opts({topP: 0}),
      opts({topP: 1.01}),
      opts({topP: Number.NaN}),
    ]) {
      expect(() => validateSamplingOptions(bad)).toThrow(UsageError);
      expect(() => sample(Float32Array.of(1, 2), bad, createRng(1))).toThrow(UsageError);
    }
  });
});

describe('kthLargest', () => {
  it('matches sorting, counts NaN as -Infinity, clamps k and leaves its input alone', () => {
    let seed = 3;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
    for (const n of [1, 2, 7, 100, 1001]) {
      const x = Float32Array.from({length: n}, () => Math.round(rand() * 20) - 10); // many ties
      const sorted = Array.from(x).sort((a, b) => b - a);
      const copy = x.slice();
      for (const k of [1, 2, Math.ceil(n / 2), n]) if (k <= n) expect(kthLargest(x, k)).toBe(sorted[k - 1]);
      expect(x).toEqual(copy);
    }
    expect(kthLargest(Float32Array.from([NaN, 3, NaN, 1]), 2)).toBe(1);
    expect(kthLargest(Float32Array.from([NaN, 3, NaN, 1]), 3)).toBe(-Infinity);
    expect(kthLargest(Float32Array.from([5, 4]), 9)).toBe(4);
    expect(kthLargest(Float32Array.from([5, 4]), 0)).toBe(5);
  });
});
