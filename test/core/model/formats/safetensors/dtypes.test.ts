import {describe, expect, it} from 'vitest';

import {
  DTYPE_BYTES,
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  float32ToHalf,
  halfToFloat32,
  isDtype,
  toFloat32,
  viewAs,
} from '../../../../../src/core/model/formats/safetensors/dtypes.js';

/** Independent decoder straight from the IEEE binary16 definition. */
function f16Oracle(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? s * Infinity : NaN;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16Oracle(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 0xff) return m === 0 ? s * Infinity : NaN;
  if (e === 0) return s * m * 2 ** -133;
  return s * (1 + m / 128) * 2 ** (e - 127);
}

/** Small deterministic generator so failures reproduce. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

describe('dtype table', () => {
  it('knows every dtype size and rejects others', () => {
    expect(DTYPE_BYTES).toEqual({F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1});
    expect(isDtype('BF16')).toBe(true);
    expect(isDtype('bf16')).toBe(false);
    expect(isDtype('F8_E4M3')).toBe(false);
    expect(isDtype('toString')).toBe(false);
    expect(isDtype(4)).toBe(false);
  });
});

describe('f16 conversions', () => {
  const known: Array<[number, number]> = [
    [1.0, 0x3c00],
    [-2.5, 0xc100],
    [65504, 0x7bff],
    [-65504, 0xfbff],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [0.333251953125, 0x3555],
  ];

  it('encodes and decodes known bit patterns', () => {
    for (const [x, bits] of known) {
      expect(f32ToF16Bits(x), `encode ${x}`).toBe(bits);
      expect(Object.is(f16BitsToF32(bits), x), `decode 0x${bits.toString(16)}`).toBe(true);
    }
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f16BitsToF32(0x2e66)).toBe(0.0999755859375);
  });

  it('handles NaN both ways', () => {
    expect(f32ToF16Bits(NaN)).toBe(0x7e00);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0x7c01)).toBeNaN();
    expect(f16BitsToF32(0xfe00)).toBeNaN();
  });

  it('rounds to nearest, ties to even', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 0x3c00 and 0x3c01: even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 0x3c01 and 0x3c02: even
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie with the odd max finite: rounds to Inf
    expect(f32ToF16Bits(-70000)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between subnormals 1 and 2
    expect(f32ToF16Bits(2 ** -25 + 2 ** -40)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // largest subnormal rounds up into normals
    expect(f32ToF16Bits(-1e-9)).toBe(0x8000);
  });

  it('decodes all 65536 patterns like the IEEE definition, and re-encodes them exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const bulk = halfToFloat32('F16', all);
    for (let h = 0; h < 65536; h++) {
      const want = f16Oracle(h);
      const got = f16BitsToF32(h);
      if (Number.isNaN(want)) {
        expect(got).toBeNaN();
        expect(bulk[h]).toBeNaN();
        continue;
      }
      if (!Object.is(got, want) || !Object.is(bulk[h], want)) expect([h, got, bulk[h]]).toEqual([h, want, want]);
      if (f32ToF16Bits(got) !== h) expect([h, f32ToF16Bits(got)]).toEqual([h, h]);
    }
  });

  it('picks the nearest f16 (ties to even) for random doubles', () => {
    const next = lcg(7);
    for (let i = 0; i < 20000; i++) {
      const x = (next() / 2 ** 32) * 2 ** ((next() % 44) - 28); // [0, 2^15)
      const h = f32ToF16Bits(x);
      expect(f32ToF16Bits(-x)).toBe(h | 0x8000);
      const err = Math.abs(f16Oracle(h) - x);
      const errUp = Math.abs(f16Oracle(h + 1) - x);
      const errDown = h === 0 ? Infinity : Math.abs(f16Oracle(h - 1) - x);
      if (err > errUp || err > errDown) throw new Error(`${x} encoded as 0x${h.toString(16)}, not the nearest`);
      if ((err === errUp || err === errDown) && (h & 1) === 1) throw new Error(`tie at ${x} went to odd 0x${h.toString(16)}`);
    }
  });

  it('bulk encoding agrees with the scalar encoder on random f32 bit patterns', () => {
    const next = lcg(11);
    const src32 = new Uint32Array(100000).map(() => next());
    src32.set([0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x477fefff, 0x477ff000, 0x387fffff, 0x38800000, 0x33000000, 0x33000001, 0]);
    const src = new Float32Array(src32.buffer);
    const bulk = float32ToHalf('F16', src);
    for (let i = 0; i < src.length; i++) {
      const want = f32ToF16Bits(src[i]!);
      if (bulk[i] !== want) expect([i, src[i], bulk[i]]).toEqual([i, src[i], want]);
    }
  });
});

describe('bf16 conversions', () => {
  it('encodes and decodes known bit patterns', () => {
    const known: Array<[number, number]> = [
      [1.0, 0x3f80],
      [-2.5, 0xc020],
      [3.3895313892515355e38, 0x7f7f], // largest finite
      [2 ** -133, 0x0001], // smallest subnormal
      [2 ** -126, 0x0080], // smallest normal
      [-0, 0x8000],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
    ];
    for (const [x, bits] of known) {
      expect(f32ToBf16Bits(x), `encode ${x}`).toBe(bits);
      expect(Object.is(bf16BitsToF32(bits), x), `decode 0x${bits.toString(16)}`).toBe(true);
    }
    expect(f32ToBf16Bits(NaN)).toBe(0x7fc0);
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
  });

  it('rounds to nearest, ties to even', () => {
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds to Inf
    expect(f32ToBf16Bits(2 ** -134)).toBe(0x0000);
    expect(f32ToBf16Bits(3 * 2 ** -134)).toBe(0x0002);
  });

  it('decodes all patterns like the definition; bulk matches scalar both ways', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const bulk = halfToFloat32('BF16', all);
    for (let h = 0; h < 65536; h++) {
      const want = bf16Oracle(h);
      if (Number.isNaN(want)) {
        expect(bulk[h]).toBeNaN();
        continue;
      }
      if (!Object.is(bulk[h], want) || !Object.is(bf16BitsToF32(h), want)) expect([h, bulk[h]]).toEqual([h, want]);
      if (f32ToBf16Bits(want) !== h) expect([h, f32ToBf16Bits(want)]).toEqual([h, h]);
    }
    const next = lcg(5);
    const src = new Float32Array(new Uint32Array(50000).map(() => next()).buffer);
    const enc = float32ToHalf('BF16', src);
    for (let i = 0; i < src.length; i++) {
      const want = f32ToBf16Bits(src[i]!);
      if (enc[i] !== want) expect([i, src[i], enc[i]]).toEqual([i, src[i], want]);
    }
  });
});

describe('bulk helpers', () => {
  it('writes into a given destination and checks its length', () => {
    const dst = new Float32Array(3);
    const out = halfToFloat32('F16', new Uint16Array([0x3c00, 0xc100, 0x7bff]), dst);
    expect(out).toBe(dst);
    expect([...dst]).toEqual([1, -2.5, 65504]);
    expect(() => halfToFloat32('BF16', new Uint16Array(2), new Float32Array(3))).toThrow(/destination holds 3 elements, source 2/);
  });

  it('toFloat32 converts every dtype from unaligned bytes', () => {
    const cases: Array<[Parameters<typeof toFloat32>[0], ArrayBufferView, number[]]> = [
      ['F64', new Float64Array([1.5, -1e300, 0.1]), [1.5, -Infinity, Math.fround(0.1)]],
      ['F32', new Float32Array([1.25, -3]), [1.25, -3]],
      ['F16', new Uint16Array([0x3c00, 0xc100]), [1, -2.5]],
      ['BF16', new Uint16Array([0x3f80, 0xc020]), [1, -2.5]],
      ['I64', new BigInt64Array([-5n, 2n ** 40n]), [-5, 2 ** 40]],
      ['I32', new Int32Array([-7, 123456]), [-7, 123456]],
      ['I16', new Int16Array([-32768, 5]), [-32768, 5]],
      ['I8', new Int8Array([-128, 127]), [-128, 127]],
      ['U8', new Uint8Array([0, 255]), [0, 255]],
      ['BOOL', new Uint8Array([1, 0]), [1, 0]],
    ];
    for (const [dtype, data, want] of cases) {
      // Copy to offset 1 of a bigger buffer so the bytes are misaligned for every multi-byte type.
      const raw = new Uint8Array(data.byteLength + 1);
      raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 1);
      const got = toFloat32(dtype, raw.subarray(1));
      expect([...got], dtype).toEqual(want);
    }
    expect(() => toFloat32('F32', new Uint8Array(6))).toThrow(/6 bytes is not a whole number of F32 elements/);
  });

  it('viewAs shares aligned memory and copies misaligned memory', () => {
    const buf = new Uint8Array(9);
    const aligned = viewAs('I32', buf.subarray(4, 8));
    aligned[0] = 7;
    expect(buf[4]).toBe(7);
    const misaligned = viewAs('I32', buf.subarray(1, 5));
    misaligned[0] = 0x01010101;
    expect(buf[1]).toBe(0);
  });
});
