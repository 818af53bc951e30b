import {describe, expect, it} from 'vitest';
import {softmax} from '../../../../src/core/numeric/softmax.js';
import {
  candidateKl,
  candidateLogProb,
  klDivergence,
  perplexity,
  perplexityWithDrops,
  tokenLogProb,
} from '../../../../src/core/tasks/evaluate/metrics.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('klDivergence', () => {
  it('is 0 with no tail when the distributions are identical', () => {
    const p = f32([1, 2, 3, -1, 0.5]);
    const r = klDivergence(p, p);
    expect(r.kl).toBe(0);
    expect(r.tailMass).toBe(0);
    expect(r.reverseKl).toBeLessThan(1e-15);
  });

  it('matches the textbook KL for full-support distributions', () => {
    const p = f32([0, 1, 2]);
    const q = f32([2, 1, 0]);
    const pp = softmax(p);
    const qq = softmax(q);
    let ref = 0, rev = 0;
    for (let i = 0; i < 3; i++) {
      ref += pp[i] * Math.log(pp[i] / qq[i]);
      rev += qq[i] * Math.log(qq[i] / pp[i]);
    }
    const r = klDivergence(p, q);
    expect(r.kl).toBeCloseTo(ref, 6);
    expect(r.reverseKl).toBeCloseTo(rev, 6);
  });

  it('drops the tail: exact logits on the candidates give kl = 0 and reverseKl = -log(1 - tail)', () => {
    const dense = f32([3, 2, 1, 0, -1]);
    const hire = f32([3, 2, -Infinity, -Infinity, -Infinity]);
    const p = softmax(dense);
    const r = klDivergence(dense, hire);
    expect(r.tailMass).toBeCloseTo(p[2] + p[3] + p[4], 6);
    expect(r.kl).toBeCloseTo(0, 6);
    expect(r.reverseKl).toBeCloseTo(-Math.log(1 - r.tailMass), 6);
    // The candidate form gives the same numbers.
    const c = candidateKl(dense, Int32Array.of(1, 0), f32([2, 3]));
    expect(c.tailMass).toBeCloseTo(r.tailMass, 12);
    expect(c.kl).toBeCloseTo(r.kl, 12);
  });

  it('with a tail and different candidate logits: kl is KL(p restricted to S and renormalised || q)', () => {
    const dense = f32([2, 1, 0.5, -1]);
    const hire = f32([0.3, 1.7, -Infinity, -Infinity]);
    const p = softmax(dense);
    const pS = [p[0] / (p[0] + p[1]), p[1] / (p[0] + p[1])];
    const q = softmax([0.3, 1.7]);
    const ref = pS[0] * Math.log(pS[0] / q[0]) + pS[1] * Math.log(pS[1] / q[1]);
    const rev = q[0] * Math.log(q[0] / p[0]) + q[1] * Math.log(q[1] / p[1]);
    const r = klDivergence(dense, hire);
    expect(r.kl).toBeCloseTo(ref, 6);
    expect(r.reverseKl).toBeCloseTo(rev, 6);
    expect(r.tailMass).toBeCloseTo(p[2] + p[3], 6);
  });

  it('differing candidate logits give a positive kl; an empty candidate set is infinite', () => {
    const dense = f32([3, 2, 1]);
    expect(klDivergence(dense, f32([2, 3, -Infinity])).kl).toBeGreaterThan(0.1);
    expect(candidateKl(dense, new Int32Array(0), new Float32Array(0)).kl).toBe(Infinity);
  });
});

describe('perplexity', () => {
  it('exp of the mean negative log-probability; dropped tokens counted apart', () => {
    expect(perplexity([Math.log(0.5), Math.log(0.5)])).toBeCloseTo(2, 12);
    expect(perplexity([Math.log(0.25), Math.log(1)])).toBeCloseTo(2, 12);
    expect(perplexity([0, -Infinity])).toBe(Infinity);
    expect(perplexityWithDrops([Math.log(0.5), -Infinity])).toEqual({perplexity: 2, kept: 1, dropped: 1});
    expect(() => perplexity([])).toThrow();
  });

  it('token log-probabilities under dense and candidate distributions', () => {
    const logits = f32([0, Math.log(3)]);
    expect(tokenLogProb(logits, 1)).toBeCloseTo(Math.log(0.75), 6);
    expect(candidateLogProb(Int32Array.of(7, 2), logits, 2)).toBeCloseTo(Math.log(0.75), 6);
    expect(candidateLogProb(Int32Array.of(7, 2), logits, 3)).toBe(-Infinity);
  });
});
