/** Penalties on repeated tokens: the logits processor's rules, on dense and sparse head results. */
import {describe, expect, it} from 'vitest';
import {applyPenalties, hasPenalties, TokenCounts, validatePenalties} from '../../../src/core/decode/penalties.js';

describe('penalties', () => {
  const dense = {ids: null, logits: Float32Array.from([2, -2, 1, 0.5])};
  const seen = new TokenCounts([0, 1, 1, 1]); // id 0 once, id 1 three times

  it('repetition divides positive and multiplies negative logits of seen tokens only', () => {
    const r = applyPenalties(dense, seen, {repetitionPenalty: 2});
    expect(Array.from(r.logits)).toEqual([1, -4, 1, 0.5]);
    expect(Array.from(dense.logits)).toEqual([2, -2, 1, 0.5]); // the input is not changed
  });

  it('presence subtracts once, frequency once per occurrence', () => {
    expect(Array.from(applyPenalties(dense, seen, {presencePenalty: 0.5}).logits)).toEqual([1.5, -2.5, 1, 0.5]);
    expect(Array.from(applyPenalties(dense, seen, {frequencyPenalty: 0.25}).logits)).toEqual([1.75, -2.75, 1, 0.5]);
  });

  it('penalises a sparse result by the ids of its candidates', () => {
    const sparse = {ids: Int32Array.from([3, 1, 7]), logits: Float32Array.from([0.5, -2, 4])};
    const r = applyPenalties(sparse, new TokenCounts([1, 7]), {repetitionPenalty: 2});
    expect(Array.from(r.logits)).toEqual([0.5, -4, 2]);
    expect(r.ids).toBe(sparse.ids);
  });

  it('is off at its defaults and rejects bad values by option name', () => {
    expect(hasPenalties({})).toBe(false);
    expect(hasPenalties({repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0})).toBe(false);
    expect(hasPenalties({frequencyPenalty: 0.1})).toBe(true);
    expect(() => validatePenalties({repetitionPenalty: 0})).toThrow(expect.objectContaining({code: 'E_USAGE', option: 'repetitionPenalty'}));
    expect(() => validatePenalties({presencePenalty: Number.NaN})).toThrow(expect.objectContaining({option: 'presencePenalty'}));
  });
});
