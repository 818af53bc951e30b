import {describe, expect, it} from 'vitest';
import {exp} from '../../../src/core/numeric/exp.js';
import {rng} from '../../helpers/random.js';

/** Distance between a and b in units in the last place of b (float64). */
function ulps(a: number, b: number): number {
  if (a === b) return 0;
  const bits = new BigInt64Array(new Float64Array([a, b]).buffer);
  const d = bits[0]! - bits[1]!;
  return Number(d < 0n ? -d : d);
}

describe('exp', () => {
  it('is within 2 ulps of Math.exp over the whole finite range, and over the sampler\'s [-40, 0]', () => {
    const rand = rng(11);
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const u = rand();
      const x = i % 2 === 0 ? -40 * u : -745.2 + u * (709.78 + 745.2);
      const e = ulps(exp(x), Math.exp(x));
      if (e > worst) worst = e;
      if (e > 2) expect.fail(`exp(${x}) = ${exp(x)}, Math.exp gives ${Math.exp(x)} (${e} ulps apart)`);
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('is exact where e^x is exact or at the ends of the range', () => {
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    expect(exp(-1e-17)).toBe(1);
    expect(exp(1e-300)).toBe(1);
    expect(exp(-Infinity)).toBe(0);
    expect(exp(-746)).toBe(0);
    expect(exp(Infinity)).toBe(Infinity);
    expect(exp(710)).toBe(Infinity);
    expect(exp(NaN)).toBeNaN();
    // the largest finite result (m = 1024 in the reduction) and the subnormal ones
    for (const x of [709.78, 709.782712893384, -708.5, -709, -710, -720.25, -744, -745.13]) {
      expect(ulps(exp(x), Math.exp(x)), String(x)).toBeLessThanOrEqual(2);
    }
    expect(exp(-745.13)).toBe(Number.MIN_VALUE);
  });
});
