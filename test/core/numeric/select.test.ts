import {describe, expect, it} from 'vitest';
import {keepTopKInPlace, topKAscending, topKIndices} from '../../../src/core/numeric/select.js';
import {rng} from '../../helpers/random.js';

describe('topKAscending', () => {
  it('is the set topKIndices picks (ties to the lower index, NaN as -Infinity), in index order', () => {
    const rand = rng(3);
    for (const n of [1, 2, 7, 64, 256, 1000]) {
      for (const kind of ['continuous', 'ties', 'specials'] as const) {
        const x = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const u = rand();
          x[i] = special(kind, u, rand);
        }
        for (const k of [0, 1, 2, Math.floor(n / 5), n - 1, n, n + 3]) {
          const want = Int32Array.from(topKIndices(x, k)).sort();
          expect(Array.from(topKAscending(x, k)), `${kind} n=${n} k=${k}`).toEqual(Array.from(want));
        }
      }
    }
  });
});

/** One value of an input kind: continuous, few distinct values, or IEEE specials (NaN, +-Infinity, +-0, subnormals, ties of magnitude). */
function special(kind: 'continuous' | 'ties' | 'specials', u: number, rand: () => number): number {
  if (kind === 'continuous') return u - 0.5;
  if (kind === 'ties') return Math.floor(u * 5) - 2;
  const v = rand();
  if (u < 0.15) return NaN;
  if (u < 0.25) return -Infinity;
  if (u < 0.32) return Infinity;
  if (u < 0.42) return v < 0.5 ? 0 : -0;
  if (u < 0.5) return (v - 0.5) * 1e-40; // subnormal in float32
  if (u < 0.6) return v < 0.5 ? 1.5 : -1.5; // equal magnitudes, both signs
  return v - 0.5;
}

describe('keepTopKInPlace', () => {
  it('keeps exactly the entries topKIndices picks on the keys (|x| or x), zeroing the rest, values untouched', () => {
    const rand = rng(5);
    for (const n of [1, 3, 16, 255, 816, 4096]) {
      for (const kind of ['continuous', 'ties', 'specials'] as const) {
        const x = new Float32Array(n);
        for (let i = 0; i < n; i++) x[i] = special(kind, rand(), rand);
        for (const byMagnitude of [false, true]) {
          const keys = byMagnitude ? x.map(Math.abs) : x;
          for (const k of [0, 1, 2, Math.floor(n / 10), Math.floor(n / 2), n - 1, n, n + 2]) {
            const keep = new Set(topKIndices(keys, k));
            const want = Array.from(x, (v, i) => (keep.has(i) ? v : 0));
            const got = x.slice();
            keepTopKInPlace(got, k, byMagnitude);
            const label = `${kind} n=${n} k=${k} byMagnitude=${byMagnitude}`;
            // Object.is: a kept -0 stays -0, a kept NaN stays NaN
            for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) expect.fail(`${label}: entry ${i} is ${got[i]}, want ${want[i]}`);
          }
        }
      }
    }
  });

  it('ties +0 with -0 (the float comparison), so the lower index wins among zeros of either sign', () => {
    const x = new Float32Array([0, -0, 0, -0, 1]);
    keepTopKInPlace(x, 3, false);
    expect(Array.from(x, (v) => Object.is(v, -0))).toEqual([false, true, false, false, false]);
    expect(Array.from(topKAscending(new Float32Array([-0, 0, -0, 0, 2]), 3))).toEqual([0, 1, 4]);
  });

  it('works on a view into a larger buffer (a backend vector in shared memory)', () => {
    const buf = new Float32Array([9, 9, 3, -7, 1, 5, 9, 9]);
    const view = buf.subarray(2, 6); // 3 -7 1 5
    keepTopKInPlace(view, 2, true);
    expect(Array.from(buf)).toEqual([9, 9, 0, -7, 0, 5, 9, 9]);
    keepTopKInPlace(view, 1, false);
    expect(Array.from(buf)).toEqual([9, 9, 0, 0, 0, 5, 9, 9]);
  });
});
