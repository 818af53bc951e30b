/**
 * Seeded random numbers, the same stream on every platform: xoshiro128** (Blackman & Vigna) on
 * 32-bit integer ops, its 128-bit state filled from the seed by splitmix64.
 */
import {UsageError} from '../errors.js';

/** Uniform in [0, 1). */
export type Rng = () => number;

// from the seed by splitmix64. Same seed -> same stream on every platform.

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 from `seed`: returns a generator of 64-bit outputs (BigInt; only used for seeding). */
export function splitmix64(seed: bigint): () => bigint {
  let state = BigInt.asUintN(64, seed);
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  };
}

/** The raw xoshiro128** generator: unsigned 32-bit outputs. `state` is four uint32 words. */
export function xoshiro128ss(state: Uint32Array): () => number {
  const s = Uint32Array.from(state);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
}

/** A seeded uniform [0, 1) generator with 53 random bits per number (two xoshiro128** outputs). */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) {
    throw new UsageError(`seed must be an integer, got ${seed}`, {option: 'seed'});
  }
  const sm = splitmix64(BigInt(seed));
  const a = sm();
  const b = sm();
  const next = xoshiro128ss(
    Uint32Array.of(Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)),
  );
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992; // (27 + 26 bits) / 2^53
}

