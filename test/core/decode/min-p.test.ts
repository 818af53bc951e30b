/** Min-p in the sampler: tokens below minP times the most likely one's probability are never drawn. */
import {describe, expect, it} from 'vitest';
import {sample, sampleCandidates, validateSamplingOptions} from '../../../src/core/decode/sampler.js';
import {createRng} from '../../../src/core/numeric/rng.js';

describe('min-p', () => {
  // probabilities proportional to 1, 0.5, 0.2, 0.05 (logits log of those)
  const logits = Float32Array.from([1, 0.5, 0.2, 0.05].map(Math.log));

  it('drops exactly the tokens below minP x the top probability', () => {
    const rng = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sample(logits, {temperature: 1, topK: 0, topP: 1, minP: 0.3}, rng));
    expect([...seen].sort()).toEqual([0, 1]);
    const all = new Set<number>();
    for (let i = 0; i < 2000; i++) all.add(sample(logits, {temperature: 1, topK: 0, topP: 1, minP: 0}, rng));
    expect([...all].sort()).toEqual([0, 1, 2, 3]);
  });

  it('applies after temperature (a lower temperature sharpens, so fewer pass) and on candidates', () => {
    const rng = createRng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sample(logits, {temperature: 0.5, topK: 0, topP: 1, minP: 0.2}, rng)); // 0.5^2 = 0.25 passes, 0.2^2 does not
    expect([...seen].sort()).toEqual([0, 1]);
    const ids = Int32Array.from([30, 10, 20, 40]);
    for (let i = 0; i < 500; i++) expect([30, 10]).toContain(sampleCandidates(ids, logits, {temperature: 1, topK: 0, topP: 1, minP: 0.3}, rng));
  });

  it('rejects values outside [0, 1]', () => {
    expect(() => validateSamplingOptions({temperature: 1, topK: 0, topP: 1, minP: 1.5})).toThrow(expect.objectContaining({option: 'minP'}));
  });
});
