/** The bigram baseline: smoothing chosen on held-out training tokens, exact on a known case. */
import {describe, expect, it} from 'vitest';
import {ALPHA_GRID, bigramBaseline} from '../../../../src/core/tasks/train/bigram.js';

describe('bigram baseline', () => {
  it('is nearly certain on a deterministic cycle, and picks the smallest alpha for it', () => {
    const cycle = Int32Array.from({length: 3000}, (_, i) => i % 5);
    const r = bigramBaseline(cycle, Int32Array.from([0, 1, 2]), Int32Array.from([1, 2, 3]), 50);
    expect(r.alpha).toBe(ALPHA_GRID[0]);
    expect(r.perplexity).toBeGreaterThan(1);
    expect(r.perplexity).toBeLessThan(1.1);
    expect(r.tokens).toBe(3);
  });

  it('computes (count + alpha) / (row + alpha V) on the full training counts', () => {
    // 10 % of 20 tokens are held out for alpha; the final counts use all 20.
    const train = Int32Array.from([0, 1, 0, 1, 0, 1, 0, 2, 0, 1, 0, 1, 0, 1, 0, 2, 0, 1, 0, 1]);
    const r = bigramBaseline(train, Int32Array.from([0]), Int32Array.from([2]), 3);
    // after 0: 1 eight times, 2 twice (row total 10)
    expect(r.loss).toBeCloseTo(-Math.log((2 + r.alpha) / (10 + 3 * r.alpha)), 10);
  });
});
