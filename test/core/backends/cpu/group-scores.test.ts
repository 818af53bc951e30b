/**
 * The cpu backend's HiRE-FFN group scores (ffnGroupScores) against hire/ffn/groups.ts on the host,
 * bit for bit: silu (the host's estimate) and relu, gated or not, max and sum, group sizes that
 * take the four-lane path and ones that do not, and awkward values (NaN, infinities, signed
 * zeros, the clamp at +-30, tiny and huge magnitudes).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createCpuBackend, type CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {groupScores, neuronScores} from '../../../../src/core/hire/ffn/groups.js';
import {rng} from '../../../helpers/random.js';

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 30, -30, 30.000002, -30.000002, 1e-30, -1e-30, 3e38, -3e38, 1e-45];

function prediction(n: number, rand: () => number): Float32Array {
  const p = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    p[i] = u < 0.1 ? SPECIAL[Math.floor(rand() * SPECIAL.length)]! : (rand() - 0.5) * (u < 0.5 ? 8 : 80);
  }
  return p;
}

describe('cpu ffnGroupScores', () => {
  let b: CpuBackend;
  beforeAll(async () => {
    b = await createCpuBackend({threads: 2});
  });
  afterAll(() => b.dispose());

  for (const activation of ['silu', 'relu'] as const) {
    for (const gated of [true, false]) {
      it(`${activation}, ${gated ? 'gated' : 'not gated'}: the host's group scores, bit for bit`, async () => {
        const rand = rng(gated ? 7 : 8);
        for (const [n, g] of [[64, 8], [96, 4], [96, 3], [40, 1], [2048, 8], [24, 24]] as const) {
          for (const score of ['max', 'sum'] as const) {
            const pred = prediction(gated ? 2 * n : n, rand);
            const want = groupScores(neuronScores(pred, activation, gated), g, score);
            const out = b.createVector(n / g);
            expect(b.ffnGroupScores(b.uploadVector(pred), {activation, gated, groupSize: g, score}, out)).toBe(true);
            const got = await b.read(out);
            const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
            expect(bits(got), `n ${n}, g ${g}, ${score}`).toEqual(bits(want));
          }
        }
      });
    }
  }

  it('returns false for an activation without a kernel, and refuses groups that do not cover the prediction', () => {
    const pred = b.uploadVector(new Float32Array(32));
    expect(b.ffnGroupScores(pred, {activation: 'gelu', gated: true, groupSize: 4, score: 'max'}, b.createVector(4))).toBe(false);
    expect(() => b.ffnGroupScores(pred, {activation: 'silu', gated: true, groupSize: 4, score: 'max'}, b.createVector(5))).toThrow(/groups of 4/);
  });
});
