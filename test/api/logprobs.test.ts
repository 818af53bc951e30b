/**
 * Log-probabilities against dense decoding on the reference backend: generate()'s per-token
 * logprobs and score()'s per-position values equal the log-softmax of the dense logits computed
 * one token at a time; under HiRE they are normalised over the k' candidates, i.e. the dense value
 * shifted by the same -log P(candidates) >= 0 for every candidate (exact at k' = vocabulary).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {demo, generate, loadModel, score, type HireModel, type TokenLogprobs} from '../../src/index.js';
import {logSoftmax} from '../../src/core/numeric/softmax.js';
import {logitsOver} from '../helpers/logits.js';

/** Dense log-softmax after each of `ids` (entry i: the distribution of the token after ids[i]). */
async function denseLogprobs(ids: number[]): Promise<Float64Array[]> {
  return (await logitsOver(demo.bundle, 'reference', ids)).map((l) => logSoftmax(l));
}

/** The shift of each top entry against dense; they must all be the same, and >= 0. */
function shifts(l: TokenLogprobs, dense: Float64Array): number[] {
  return l.top.map((t) => t.logprob - dense[t.id]!);
}

describe('log-probabilities against dense decoding (reference backend, demo bundle)', () => {
  let model: HireModel;
  beforeAll(async () => {
    model = await loadModel(demo.bundle, {backend: 'reference'});
  });
  afterAll(() => model.dispose());

  it('dense generation: each token\'s logprob and top-5 are the dense log-softmax', async () => {
    const r = await generate(model, 'ROMEO:', {dense: true, temperature: 0.8, seed: 3, maxTokens: 8, logprobs: 5}).complete();
    const dense = await denseLogprobs([...r.promptTokenIds, ...r.tokenIds]);
    expect(r.logprobs).toHaveLength(r.tokenIds.length);
    r.tokenIds.forEach((id, i) => {
      const l = r.logprobs![i]!;
      const d = dense[r.promptTokenIds.length - 1 + i]!;
      expect(l.exact).toBe(true);
      expect(l.tail).toBe('none');
      expect(l.normalisedOver).toBe(model.config.vocabSize);
      expect(l.logprob).toBeCloseTo(d[id]!, 5);
      const best = Array.from(d.keys()).sort((a, b) => d[b]! - d[a]! || a - b).slice(0, 5);
      expect(l.top.map((t) => t.id)).toEqual(best);
      expect(l.top[0]!.token).toBe(model.tokenString(best[0]!));
    });
  });

  it("HiRE generation: normalised over the k' candidates, a constant non-negative shift of the dense values", async () => {
    const gen = generate(model, 'ROMEO:', {kPrime: 32, temperature: 0, maxTokens: 8, logprobs: 4});
    expect(gen.output.kind).toBe('hire');
    const chunks = [];
    for await (const chunk of gen) chunks.push(chunk);
    const r = gen.result!;
    const dense = await denseLogprobs([...r.promptTokenIds, ...r.tokenIds]);
    chunks.forEach((c, i) => {
      const l = c.logprobs!;
      const d = dense[r.promptTokenIds.length - 1 + i]!;
      expect(l.exact).toBe(false);
      expect(l.tail).toBe('dropped');
      expect(l.normalisedOver).toBe(32);
      const s = shifts(l, d);
      for (const x of s) expect(x).toBeCloseTo(s[0]!, 4);
      expect(s[0]!).toBeGreaterThanOrEqual(-1e-5);
      // the shift is -log P(candidates), and the candidates hold at least the top entries
      expect(s[0]!).toBeLessThanOrEqual(-Math.log(l.top.reduce((a, t) => a + Math.exp(d[t.id]!), 0)) + 1e-5);
      expect(l.logprob! - d[c.id]!).toBeCloseTo(s[0]!, 4);
    });
  });

  it("HiRE at k' = the vocabulary gives the dense values", async () => {
    const r = await generate(model, 'ROMEO:', {kPrime: model.config.vocabSize, temperature: 0, maxTokens: 4, logprobs: 3}).complete();
    const dense = await denseLogprobs([...r.promptTokenIds, ...r.tokenIds]);
    r.logprobs!.forEach((l, i) => {
      for (const x of shifts(l, dense[r.promptTokenIds.length - 1 + i]!)) expect(x).toBeCloseTo(0, 4);
    });
  });

  it('score(): every position in one pass equals the dense log-softmax token by token', async () => {
    const text = 'ROMEO:\nWhat light through yonder window breaks?';
    const r = await score(model, text, {top: 3});
    expect(r.output.kind).toBe('dense');
    const dense = await denseLogprobs(r.tokenIds);
    expect(r.tokens).toHaveLength(r.tokenIds.length);
    expect(r.tokens[0]!.logprob).toBeNull();
    let total = 0;
    for (let i = 1; i < r.tokenIds.length; i++) {
      const t = r.tokens[i]!;
      expect(t.id).toBe(r.tokenIds[i]);
      expect(t.logprob).toBeCloseTo(dense[i - 1]![t.id]!, 5);
      expect(t.top.map((a) => a.logprob)).toEqual([...t.top.map((a) => a.logprob)].sort((a, b) => b - a));
      for (const a of t.top) expect(a.logprob).toBeCloseTo(dense[i - 1]![a.id]!, 5);
      total += t.logprob!;
    }
    expect(r.totalLogprob).toBeCloseTo(total, 8);
  });

  it("score() through HiRE: the candidates' shifted values, null for a token outside them", async () => {
    const ids = model.encode('ROMEO:\nWhat light through yonder window breaks? zzq');
    const r = await score(model, ids, {dense: false, kPrime: 8, top: 2});
    expect(r.output.kind).toBe('hire');
    const dense = await denseLogprobs(ids);
    let outside = 0;
    for (let i = 1; i < ids.length; i++) {
      const t = r.tokens[i]!;
      expect(t.exact).toBe(false);
      const s = shifts(t, dense[i - 1]!);
      expect(s[0]!).toBeGreaterThanOrEqual(-1e-5);
      if (t.logprob === null) outside++;
      else expect(t.logprob - dense[i - 1]![t.id]!).toBeCloseTo(s[0]!, 4);
    }
    expect(outside).toBeGreaterThan(0); // k' = 8 misses some of this text's tokens
    expect(r.totalLogprob).toBeNull();
  });

  it("the predictor's tail estimate: every token gets a value, candidates closer to dense than with the tail dropped", async () => {
    const ids = model.encode('ROMEO:\nWhat light through yonder window breaks? zzq');
    const drop = await score(model, ids, {dense: false, kPrime: 8});
    const est = await score(model, ids, {dense: false, kPrime: 8, tail: 'estimate'});
    const dense = await denseLogprobs(ids);
    let errDrop = 0;
    let errEst = 0;
    let outside = 0;
    for (let i = 1; i < ids.length; i++) {
      const [d, e, want] = [drop.tokens[i]!, est.tokens[i]!, dense[i - 1]![ids[i]!]!];
      expect([d.tail, e.tail]).toEqual(['dropped', 'estimated']);
      expect(e.logprob).not.toBeNull();
      expect(Number.isFinite(e.logprob)).toBe(true);
      if (d.logprob === null) {
        outside++;
        continue;
      }
      // a candidate: the same exact logit, normalised by a larger sum (the tail's estimated mass added)
      expect(e.logprob!).toBeLessThanOrEqual(d.logprob + 1e-6);
      const s = shifts(e, dense[i - 1]!);
      for (const x of s) expect(x).toBeCloseTo(s[0]!, 4);
      errDrop += Math.abs(d.logprob - want);
      errEst += Math.abs(e.logprob! - want);
    }
    expect(outside).toBeGreaterThan(0);
    expect(errEst).toBeLessThan(errDrop);
    expect(est.totalLogprob).not.toBeNull();
    const gen = await generate(model, 'ROMEO:', {kPrime: 8, temperature: 0, maxTokens: 3, logprobs: 1, logprobsTail: 'estimate'}).complete();
    expect(gen.logprobs!.map((l) => l.tail)).toEqual(['estimated', 'estimated', 'estimated']);
  });

  it('checks its options', async () => {
    expect(() => generate(model, 'x', {logprobs: -1})).toThrow(expect.objectContaining({option: 'logprobs'}));
    await expect(score(model, 'x', {top: 1.5})).rejects.toMatchObject({option: 'top'});
    await expect(score(model, [])).rejects.toMatchObject({code: 'E_USAGE'});
    await expect(score(model, 'x', {tail: 'guess' as never})).rejects.toMatchObject({option: 'tail'});
    expect(() => generate(model, 'x', {logprobs: 1, logprobsTail: 'guess' as never})).toThrow(expect.objectContaining({option: 'logprobsTail'}));
  });
});
