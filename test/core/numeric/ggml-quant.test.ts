/**
 * ggml's Q8_0 and Q4_0 blocks byte for byte (llama.cpp's quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref rules, worked by hand here), round trips, and the half-float scale.
 */
import {describe, expect, it} from 'vitest';
import {
  blockRowBytes,
  dequantizeBlocks,
  halfBits,
  halfValue,
  quantizeBlocks,
} from '../../../src/core/numeric/ggml-quant.js';
import {f16BitsToF32, f32ToF16Bits} from '../../../src/core/model/formats/safetensors/index.js';
import {rng} from '../../helpers/random.js';

const block = (head: number[], fill = 0): Float32Array => Float32Array.from({length: 32}, (_, i) => head[i] ?? fill);

describe('Q8_0 blocks', () => {
  it('a zero block is a zero scale and zero quants (34 bytes)', () => {
    expect(Array.from(quantizeBlocks('q8_0', new Float32Array(32), 1, 32))).toEqual(new Array(34).fill(0));
  });

  it('d = max|x| / 127 as a little-endian half, quants rounded half away from zero', () => {
    // amax 127 -> d = 1 (half 0x3c00); 0.5 -> 1, -0.5 -> -1, 2.5 -> 3, -2.5 -> -3, 1.4 -> 1
    const bytes = quantizeBlocks('q8_0', block([127, -127, 0.5, -0.5, 2.5, -2.5, 1.4]), 1, 32);
    expect(bytes[0]).toBe(0x00);
    expect(bytes[1]).toBe(0x3c);
    expect(Array.from(bytes.subarray(2, 9), (b) => (b << 24) >> 24)).toEqual([127, -127, 1, -1, 3, -3, 1]);
    expect(Array.from(bytes.subarray(9))).toEqual(new Array(25).fill(0));
  });

  it('a negative maximum sets the scale through its magnitude', () => {
    const bytes = quantizeBlocks('q8_0', block([-254, 100]), 1, 32);
    expect(halfValue(bytes[0]! | (bytes[1]! << 8))).toBe(2);
    expect([(bytes[2]! << 24) >> 24, bytes[3]]).toEqual([-127, 50]);
  });

  it('dequantises to q * d exactly and re-quantises to the same bytes', () => {
    const random = rng(1);
    const x = Float32Array.from({length: 4 * 96}, () => (random() * 2 - 1) * 3);
    const q = quantizeBlocks('q8_0', x, 4, 96);
    expect(q.length).toBe(4 * blockRowBytes('q8_0', 96));
    const y = dequantizeBlocks('q8_0', q, 4, 96);
    expect(Array.from(quantizeBlocks('q8_0', y, 4, 96))).toEqual(Array.from(q));
    for (let b = 0; b < 12; b++) {
      const d = halfValue(q[b * 34]! | (q[b * 34 + 1]! << 8));
      for (let j = 0; j < 32; j++) {
        expect(y[b * 32 + j]).toBe(Math.fround(((q[b * 34 + 2 + j]! << 24) >> 24) * d));
        // half a step, plus up to 127 times the half rounding of d (2^-11 relative)
        expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual(0.57 * d);
      }
    }
  });
});

describe('Q4_0 blocks', () => {
  it('d = (the x of largest |x|) / -8; n = min(15, trunc(x / d + 8.5)); x[j] low nibble, x[j+16] high', () => {
    // largest |x| is -8 -> d = 1: n = trunc(x + 8.5); 7.5 clamps to 15; 0.5 -> 9 and -0.5 -> 8 (ties up)
    const x = block([-8, 7, 7.5, 0.5, -0.5, 3]);
    x[16] = 1;
    x[17] = -3;
    const bytes = quantizeBlocks('q4_0', x, 1, 32);
    expect([bytes[0], bytes[1]]).toEqual([0x00, 0x3c]);
    const lo = Array.from(bytes.subarray(2, 18), (b) => b & 15);
    const hi = Array.from(bytes.subarray(2, 18), (b) => b >> 4);
    expect(lo.slice(0, 6)).toEqual([0, 15, 15, 9, 8, 11]);
    expect(hi.slice(0, 3)).toEqual([9, 5, 8]);
    expect(Array.from(dequantizeBlocks('q4_0', bytes, 1, 32).subarray(0, 6))).toEqual([-8, 7, 7, 1, 0, 3]);
  });

  it('a positive maximum gives a negative scale; -max clamps to 15, i.e. -7 d', () => {
    const bytes = quantizeBlocks('q4_0', block([8, -8, -7]), 1, 32);
    expect(halfValue(bytes[0]! | (bytes[1]! << 8))).toBe(-1);
    expect([bytes[2]! & 15, bytes[3]! & 15, bytes[4]! & 15]).toEqual([0, 15, 15]);
    expect(Array.from(dequantizeBlocks('q4_0', bytes, 1, 32).subarray(0, 3))).toEqual([8, -7, -7]);
  });

  it('ties in |x| keep the first: [3, -3] and [-3, 3] get opposite scales', () => {
    const d = (x: Float32Array) => {
      const b = quantizeBlocks('q4_0', x, 1, 32);
      return halfValue(b[0]! | (b[1]! << 8));
    };
    expect(d(block([3, -3]))).toBe(-0.375);
    expect(d(block([-3, 3]))).toBe(0.375);
  });

  it('a zero block is all 8s (value 0) with the scale -0 (0 / -8 in float32: half 0x8000)', () => {
    expect(Array.from(quantizeBlocks('q4_0', new Float32Array(32), 1, 32))).toEqual([0, 0x80, ...new Array(16).fill(0x88)]);
  });

  it('round trip: re-quantising the dequantised matrix gives the same bytes; error within one step', () => {
    const random = rng(2);
    const x = Float32Array.from({length: 3 * 128}, () => (random() * 2 - 1) * 0.1);
    const q = quantizeBlocks('q4_0', x, 3, 128);
    const y = dequantizeBlocks('q4_0', q, 3, 128);
    expect(Array.from(quantizeBlocks('q4_0', y, 3, 128))).toEqual(Array.from(q));
    for (let b = 0; b < 12; b++) {
      const d = Math.abs(halfValue(q[b * 18]! | (q[b * 18 + 1]! << 8)));
      // within d/2, except that a value near -max clamps to 7 d (the grid runs -8 d .. 7 d)
      for (let j = 0; j < 32; j++) expect(Math.abs(y[b * 32 + j]! - x[b * 32 + j]!)).toBeLessThanOrEqual(1.01 * d);
    }
  });

  it('rejects rows that are not whole blocks', () => {
    expect(() => quantizeBlocks('q4_0', new Float32Array(40), 1, 40)).toThrow(/not a whole number of 32-weight blocks/);
  });
});

describe('half floats', () => {
  it('halfBits rounds like the safetensors encoder and halfValue decodes exactly', () => {
    const random = rng(3);
    const cases = [0, -0, 1, -2, 65504, 65520, 1e6, -1e6, 6e-8, 3e-8, 2.9e-8, 6.1e-5, 0.1, NaN, Infinity, -Infinity];
    for (let i = 0; i < 20000; i++) cases.push((random() * 2 - 1) * 2 ** Math.floor(random() * 40 - 28));
    for (const x of cases) {
      const v = Math.fround(x);
      expect(halfBits(v)).toBe(f32ToF16Bits(v));
    }
    for (let h = 0; h < 65536; h++) expect(Object.is(halfValue(h), f16BitsToF32(h)) || (Number.isNaN(halfValue(h)) && Number.isNaN(f16BitsToF32(h)))).toBe(true);
  });
});
