import {describe, expect, it} from 'vitest';
import {topKAscending, topKIndices} from '../../../src/core/numeric/select.js';
import {rng} from '../../helpers/random.js';

describe('topKAscending', () => {
  it('is the set topKIndices picks (ties to the lower index, NaN as -Infinity), in index order', () => {
    const rand = rng(3);
    for (const n of [1, 2, 7, 64, 256, 1000]) {
      for (const kind of ['continuous', 'ties', 'specials'] as const) {
        const x = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const u = rand();
          x[i] = kind === 'continuous' ? u - 0.5 : kind === 'ties' ? Math.floor(u * 5) : u < 0.2 ? NaN : u < 0.35 ? -Infinity : u < 0.45 ? Infinity : u < 0.6 ? 0 : u;
        }
        for (const k of [0, 1, 2, Math.floor(n / 5), n - 1, n, n + 3]) {
          const want = Int32Array.from(topKIndices(x, k)).sort();
          expect(Array.from(topKAscending(x, k)), `${kind} n=${n} k=${k}`).toEqual(Array.from(want));
        }
      }
    }
  });
});
