import {describe, expect, it} from 'vitest';
import {gaussianMatrix} from '../../../src/core/numeric/linalg.js';
import {
  dequantize,
  quantBytes,
  quantize,
  quantLevels,
  quantMatvec,
  quantRowBytes,
  quantRowErrorBounds,
  quantRowInts,
  type QuantBits,
} from '../../../src/core/numeric/quant.js';

const BITS: QuantBits[] = [8, 4, 2];

/** A matrix with mixed magnitudes, an all-zero row and a one-sided (all-negative) row. */
function testMatrix(rows: number, cols: number, seed: number): Float32Array {
  const w = Float32Array.from(gaussianMatrix(rows * cols, seed), (v, i) => v * (1 + (i % 7)));
  w.fill(0, 0, cols); // row 0 all zero
  for (let c = 0; c < cols; c++) w[cols + c] = -Math.abs(w[cols + c]); // row 1 all negative
  return w;
}

describe('quantize / dequantize', () => {
  for (const bits of BITS) {
    for (const [cols, groupSize] of [
      [37, 37], // one group per row, odd cols
      [37, 8], // cols not a multiple of the group size
      [64, 32],
      [5, 4],
      [1, 1],
    ] as const) {
      it(`int${bits}, cols ${cols}, group ${groupSize}: |w - dq| <= scale/2 and q in range`, () => {
        const rows = 6;
        const w = testMatrix(rows, cols, 100 + cols + bits);
        const q = quantize(w, rows, cols, bits, groupSize);
        const nGroups = Math.ceil(cols / groupSize);
        expect(q.data.length).toBe(rows * Math.ceil((cols * bits) / 8));
        expect(q.scales.length).toBe(rows * nGroups);
        const dq = dequantize(q);
        const {qmin, qmax} = quantLevels(bits);
        const ints = new Int32Array(cols);
        for (let r = 0; r < rows; r++) {
          quantRowInts(q, r, ints);
          for (let c = 0; c < cols; c++) {
            const s = q.scales[r * nGroups + Math.floor(c / groupSize)];
            expect(ints[c]).toBeGreaterThanOrEqual(qmin);
            expect(ints[c]).toBeLessThanOrEqual(qmax);
            expect(Math.fround(ints[c] * s)).toBe(dq[r * cols + c]);
            expect(Math.abs(w[r * cols + c] - dq[r * cols + c])).toBeLessThanOrEqual((s / 2) * (1 + 1e-6));
          }
        }
        // The zero row quantises to zeros with zero scales.
        for (let c = 0; c < cols; c++) expect(dq[c]).toBe(0);
        expect(quantBytes(q)).toBe(q.data.length + 4 * q.scales.length);
      });
    }
  }

  it('rejects group sizes that would split a byte, and bad bit widths', () => {
    const w = new Float32Array(2 * 10);
    expect(() => quantize(w, 2, 10, 4, 3)).toThrow(/multiple of 2/);
    expect(() => quantize(w, 2, 10, 2, 6)).toThrow(/multiple of 4/);
    expect(() => quantize(w, 2, 10, 4, 10)).not.toThrow();
    expect(() => quantize(w, 2, 10, 8, 3)).not.toThrow();
    expect(() => quantize(w, 2, 10, 3 as QuantBits, 10)).toThrow(/bits/);
  });
});

describe('packing (the layout the WebAssembly kernels read)', () => {
  it('int8: one signed byte per column, scale maxabs/127', () => {
    const w = Float32Array.of(127, -127, 1, -64, 0.4);
    const q = quantize(w, 1, 5, 8);
    expect(q.scales[0]).toBe(1);
    expect(Array.from(q.data)).toEqual([127, 129, 1, 192, 0]);
  });

  it('int4: even column in the low nibble, two\'s complement, odd cols leaves the last high nibble 0', () => {
    // maxabs 7 -> scale 1; values 1, -1, 7, -7, 3 -> nibbles 1, 15, 7, 9, 3.
    const w = Float32Array.of(1, -1, 7, -7, 3);
    const q = quantize(w, 1, 5, 4);
    expect(q.scales[0]).toBe(1);
    expect(quantRowBytes(4, 5)).toBe(3);
    expect(Array.from(q.data)).toEqual([0xf1, 0x97, 0x03]);
  });

  it('int2: column 4j in bits 0-1, values in [-2, 1] as two\'s complement, rows start on a byte', () => {
    // Row 0: maxPos 1.5, maxNeg 3 -> scale max(1, 1.2) = 1.2: 1.5 -> 1, -3 -> -2 (clamped from -2.5), 0 -> 0, -1.2 -> -1, 1.2 -> 1.
    // Row 1: all zero.
    const w = Float32Array.of(1.5, -3, 0, -1.2, 1.2, 0, 0, 0, 0, 0);
    const q = quantize(w, 2, 5, 2);
    expect(q.scales[0]).toBe(Math.fround(1.2));
    expect(quantRowBytes(2, 5)).toBe(2);
    // fields: 1 -> 01, -2 -> 10, 0 -> 00, -1 -> 11 => byte 0 = 0b11_00_10_01; byte 1 = 1 -> 0b01.
    expect(Array.from(q.data)).toEqual([0b11001001, 0b01, 0, 0]);
  });

  it('round trip: the unpacked integers are clamp(round(w / s)) for every bit width, odd cols, partial groups', () => {
    for (const bits of BITS) {
      const rows = 5, cols = 45, groupSize = bits === 8 ? 7 : 12;
      const w = testMatrix(rows, cols, 400 + bits);
      const q = quantize(w, rows, cols, bits, groupSize);
      const {qmin, qmax} = quantLevels(bits);
      const nGroups = Math.ceil(cols / groupSize);
      const ints = new Int32Array(cols);
      for (let r = 0; r < rows; r++) {
        quantRowInts(q, r, ints);
        for (let c = 0; c < cols; c++) {
          const s = q.scales[r * nGroups + Math.floor(c / groupSize)];
          const expected = s === 0 ? 0 : Math.min(qmax, Math.max(qmin, Math.round(w[r * cols + c] / s))) + 0;
          expect(ints[c]).toBe(expected);
        }
      }
      // Unused trailing fields of each row stay 0.
      const rowBytes = quantRowBytes(bits, cols);
      const usedBits = cols * bits - (rowBytes - 1) * 8;
      for (let r = 0; r < rows; r++) expect(q.data[r * rowBytes + rowBytes - 1] >> usedBits).toBe(0);
    }
  });

  it('int8 and int4 reproduce matrices already on their grid exactly', () => {
    for (const bits of [8, 4] as const) {
      const {qmax} = quantLevels(bits);
      const cols = 13;
      const ints = Array.from({length: cols}, (_, c) => ((c * 5) % (2 * qmax + 1)) - qmax);
      ints[0] = qmax; // pins maxabs, so the scale is exactly 0.5
      const w = Float32Array.from(ints, (v) => v * 0.5);
      expect(dequantize(quantize(w, 1, cols, bits))).toEqual(w);
    }
  });
});

describe('quantMatvec and error bounds', () => {
  for (const bits of BITS) {
    it(`int${bits}: quantMatvec equals dequantize-then-matvec; row error <= the scale-only bound`, () => {
      const rows = 9, cols = 70, groupSize = 32;
      const w = testMatrix(rows, cols, 200 + bits);
      const q = quantize(w, rows, cols, bits, groupSize);
      const x = gaussianMatrix(cols, 300 + bits);
      const y = quantMatvec(q, x);
      const dq = dequantize(q);
      const bounds = quantRowErrorBounds(q);
      for (let r = 0; r < rows; r++) {
        let ref = 0;
        let err = 0;
        for (let c = 0; c < cols; c++) {
          ref += dq[r * cols + c] * x[c];
          err += (w[r * cols + c] - dq[r * cols + c]) ** 2;
        }
        expect(Math.abs(y[r] - ref)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref)));
        expect(Math.sqrt(err)).toBeLessThanOrEqual(bounds[r] * (1 + 1e-6));
      }
    });
  }
});
