/** Log-probabilities from head results: dense rows against log-softmax, sparse rows normalised over the candidates. */
import {describe, expect, it} from 'vitest';
import {logSumExp, tokenLogprobs} from '../../../src/core/decode/logprobs.js';
import {logSoftmax} from '../../../src/core/numeric/softmax.js';
import {rng} from '../../helpers/random.js';

describe('tokenLogprobs', () => {
  const r = rng(5);
  const logits = Float32Array.from({length: 50}, () => (r() * 2 - 1) * 4);
  const ls = logSoftmax(logits);

  it('dense: the log-softmax of the logits, and the top alternatives in order', () => {
    const info = tokenLogprobs({ids: null, logits}, 7, 3);
    expect(info.logprob).toBeCloseTo(ls[7]!, 12);
    expect(info.exact).toBe(true);
    expect(info.normalisedOver).toBe(50);
    const order = Array.from(ls.keys()).sort((a, b) => ls[b]! - ls[a]!).slice(0, 3);
    expect(info.top.map((t) => t.id)).toEqual(order);
    for (const t of info.top) expect(t.logprob).toBeCloseTo(ls[t.id]!, 12);
  });

  it('sparse: normalised over the candidates, a constant shift of the dense values; null outside them', () => {
    const ids = Int32Array.from([40, 3, 17, 8]);
    const sub = Float32Array.from(ids, (id) => logits[id]!);
    const info = tokenLogprobs({ids, logits: sub}, 17, 2);
    expect(info.exact).toBe(false);
    expect(info.normalisedOver).toBe(4);
    const shift = -Math.log(Array.from(ids).reduce((a, id) => a + Math.exp(ls[id]!), 0)); // -log P(C)
    expect(shift).toBeGreaterThan(0);
    expect(info.logprob).toBeCloseTo(ls[17]! + shift, 10);
    for (const t of info.top) expect(t.logprob).toBeCloseTo(ls[t.id]! + shift, 10);
    expect(tokenLogprobs({ids, logits: sub}, 5, 0).logprob).toBeNull();
  });

  it("with the predictor's tail: a perfect predictor gives the dense values, in and outside the candidates", () => {
    const ids = Int32Array.from([40, 3, 17, 8]);
    const sub = Float32Array.from(ids, (id) => logits[id]!);
    const exactTail = tokenLogprobs({ids, logits: sub, approx: logits}, 17, 2);
    expect(exactTail.tail).toBe('estimated');
    expect(exactTail.logprob).toBeCloseTo(ls[17]!, 10);
    expect(tokenLogprobs({ids, logits: sub, approx: logits}, 5, 0).logprob).toBeCloseTo(ls[5]!, 10);
    // a predictor that underestimates the tail by 1 everywhere: candidates come out above dense, by less than without a tail
    const low = Float32Array.from(logits, (v) => v - 1);
    const under = tokenLogprobs({ids, logits: sub, approx: low}, 17, 0).logprob!;
    const dropped = tokenLogprobs({ids, logits: sub}, 17, 0).logprob!;
    expect(under).toBeGreaterThan(ls[17]!);
    expect(under).toBeLessThan(dropped);
    expect(tokenLogprobs({ids: null, logits}, 17, 0).tail).toBe('none');
    expect(tokenLogprobs({ids, logits: sub}, 17, 0).tail).toBe('dropped');
  });

  it('breaks ties by the lower id', () => {
    const info = tokenLogprobs({ids: Int32Array.from([9, 4, 6]), logits: Float32Array.from([1, 1, 0])}, 9, 2);
    expect(info.top.map((t) => t.id)).toEqual([4, 9]);
    expect(logSumExp([0, 0])).toBeCloseTo(Math.log(2), 14);
  });
});
