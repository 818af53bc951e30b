/**
 * Shared by the tfjs backend tests: seeded random data, f16/bf16 encoding for the 16-bit matrix
 * cases, and a closeness check that reports the worst element.
 */
import {expect} from 'vitest';
import type {HostMatrix, WeightDtype} from '../../../../src/core/backends/backend.js';

export {rng} from '../../../helpers/random.js';

/** n values uniform in [-scale, scale). */
export function randomArray(n: number, random: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * scale;
  return out;
}

/** bf16 bit pattern of an f32 (round to nearest even). */
function toBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** f16 bit pattern of a normal-range f32 (enough for test data in [-4, 4]). */
function toF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign; // flush tiny values to zero
  const mant = u & 0x7fffff;
  let h = sign | (exp << 10) | (mant >>> 13);
  if ((mant & 0x1fff) > 0x1000 || ((mant & 0x1fff) === 0x1000 && (h & 1))) h++;
  return h;
}

export function randomMatrix(dtype: WeightDtype, rows: number, cols: number, random: () => number): HostMatrix {
  const values = randomArray(rows * cols, random, 1 / Math.sqrt(cols));
  if (dtype === 'f32') return {dtype, rows, cols, data: values};
  const encode = dtype === 'bf16' ? toBf16 : toF16;
  return {dtype, rows, cols, data: Uint16Array.from(values, encode)};
}

/** Every |got - want| <= abs + rel * max|want|; names the worst index when it fails. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs = 0): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  const tol = abs + rel * scale;
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= worstErr)) {
      worstErr = err;
      worst = i;
    }
  }
  if (!(worstErr <= tol)) {
    expect.fail(`element ${worst}: got ${got[worst]}, want ${want[worst]} (error ${worstErr} > tolerance ${tol})`);
  }
}
