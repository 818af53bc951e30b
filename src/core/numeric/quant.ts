/**
 * Symmetric (zero-point-free) group quantisation of a row-major matrix, in the exact packed layout
 * the WebAssembly kernels read (src/core/backends/cpu/kernels.wat):
 *
 *   W[r, c] ~ q[r, c] * scales[r * nGroups + floor(c / groupSize)],  nGroups = ceil(cols / groupSize)
 *
 *   bits  q range   scale s (per row and group, from that group's weights)   packing of one row
 *   8     [-127,127] maxabs / 127                                             1 signed byte per column
 *   4     [-8, 7]    maxabs / 7 (so q stays in [-7, 7])                       byte j: column 2j in the low
 *                                                                              nibble, 2j+1 in the high one
 *   2     [-2, 1]    max(maxPos / 1.5, maxNeg / 2.5)                          byte j: column 4j in bits 0-1,
 *                                                                              4j+1 in bits 2-3, ...
 *
 * Values are two's complement in their field (a nibble n decodes as (n ^ 8) - 8, a 2-bit field f as
 * (f ^ 2) - 2). Every row starts on a fresh byte: a row is ceil(cols * bits / 8) bytes and unused
 * trailing fields are 0. q = clamp(round(w / s)), with s the float32 scale actually stored.
 *
 * Why the int2 scale differs: with only the levels {-2, -1, 0, 1}, the maxabs/2 scale would clamp
 * a positive maximum to 1 (error up to a whole step). Choosing s so the group fits the representable
 * range [-2.5 s, 1.5 s] keeps the per-element error within s/2 for every bit width, which is the
 * bound `quantRowErrorBounds` relies on. (int4 leaves -8 unused for the same simplicity.)
 *
 * Group sizes: any size for int8; even (or = cols) for int4, a multiple of 4 (or = cols) for int2,
 * so that every group starts on a byte (the kernels assume it).
 */

export type QuantBits = 8 | 4 | 2;

export interface QuantMatrix {
  bits: QuantBits;
  rows: number;
  cols: number;
  groupSize: number;
  /** Packed values, rows * quantRowBytes(bits, cols) bytes. */
  data: Uint8Array;
  /** [rows, ceil(cols / groupSize)], one scale per (row, group), row-major. */
  scales: Float32Array;
}

/** A packed quantised matrix as hosts and backends exchange it (the same layout). */
export type HostQuantMatrix = QuantMatrix;

/** Bytes per packed row. */
export function quantRowBytes(bits: QuantBits, cols: number): number {
  return Math.ceil((cols * bits) / 8);
}

/** Groups per row. */
export function quantGroups(q: Pick<QuantMatrix, 'cols' | 'groupSize'>): number {
  return Math.ceil(q.cols / q.groupSize);
}

/** Integer range of each bit width. */
export function quantLevels(bits: QuantBits): {qmin: number; qmax: number} {
  switch (bits) {
    case 8:
      return {qmin: -127, qmax: 127};
    case 4:
      return {qmin: -8, qmax: 7};
    case 2:
      return {qmin: -2, qmax: 1};
  }
}

function checkShape(bits: number, rows: number, cols: number, groupSize: number): void {
  if (bits !== 8 && bits !== 4 && bits !== 2) throw new RangeError(`quantize: bits must be 8, 4 or 2, got ${bits}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1) {
    throw new RangeError(`quantize: bad shape [${rows}, ${cols}]`);
  }
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new RangeError(`quantize: groupSize must be a positive integer, got ${groupSize}`);
  }
  const perByte = 8 / bits;
  if (groupSize !== cols && groupSize % perByte !== 0) {
    throw new RangeError(
      `quantize: int${bits} groups must start on a byte: use a groupSize that is a multiple of ${perByte} ` +
        `or equal to cols (${cols}), got ${groupSize}`,
    );
  }
}

/** The float32 scale of one group of weights w[from, to). */
function groupScale(w: ArrayLike<number>, from: number, to: number, bits: QuantBits): number {
  let maxPos = 0;
  let maxNeg = 0;
  for (let c = from; c < to; c++) {
    const v = w[c];
    if (v > maxPos) maxPos = v;
    else if (-v > maxNeg) maxNeg = -v;
  }
  if (bits === 2) return Math.fround(Math.max(maxPos / 1.5, maxNeg / 2.5));
  return Math.fround(Math.max(maxPos, maxNeg) / (bits === 8 ? 127 : 7));
}

/** Quantise W [rows, cols] (see the file comment for the format). groupSize = cols: one scale per row. */
export function quantize(
  w: Float32Array | Float64Array,
  rows: number,
  cols: number,
  bits: QuantBits,
  groupSize: number = cols,
): QuantMatrix {
  checkShape(bits, rows, cols, groupSize);
  if (w.length < rows * cols) throw new RangeError(`quantize: W has ${w.length} values, need ${rows * cols}`);
  const {qmin, qmax} = quantLevels(bits);
  const nGroups = Math.ceil(cols / groupSize);
  const rowBytes = quantRowBytes(bits, cols);
  const data = new Uint8Array(rows * rowBytes);
  const scales = new Float32Array(rows * nGroups);
  const perByte = 8 / bits;
  const fieldMask = (1 << bits) - 1;
  for (let r = 0; r < rows; r++) {
    const wr = r * cols;
    const br = r * rowBytes;
    for (let g = 0; g < nGroups; g++) {
      const c0 = g * groupSize;
      const c1 = Math.min(cols, c0 + groupSize);
      const s = groupScale(w, wr + c0, wr + c1, bits);
      scales[r * nGroups + g] = s;
      for (let c = c0; c < c1; c++) {
        // s = 0 only for an all-zero group; NaN weights quantise to 0.
        let q = s > 0 ? Math.round(w[wr + c] / s) : 0;
        q = q > qmax ? qmax : q < qmin ? qmin : q === q ? q : 0;
        const byte = br + Math.floor(c / perByte);
        const shift = (c % perByte) * bits;
        data[byte] |= (q & fieldMask) << shift;
      }
    }
  }
  return {bits, rows, cols, groupSize, data, scales};
}

/** The integer levels of row r into out[0, cols). */
export function quantRowInts(q: QuantMatrix, r: number, out: Int32Array | Float64Array): typeof out {
  const {bits, cols, data} = q;
  const br = r * quantRowBytes(bits, cols);
  if (bits === 8) {
    for (let c = 0; c < cols; c++) out[c] = (data[br + c] << 24) >> 24;
  } else if (bits === 4) {
    for (let c = 0; c < cols; c++) out[c] = (((data[br + (c >> 1)] >> ((c & 1) * 4)) & 15) ^ 8) - 8;
  } else {
    for (let c = 0; c < cols; c++) out[c] = (((data[br + (c >> 2)] >> ((c & 3) * 2)) & 3) ^ 2) - 2;
  }
  return out;
}

/** Decode row r into out[0, cols): int * scale (exact in float64; rounded once into float32). */
export function dequantizeRow(q: QuantMatrix, r: number, out: Float32Array | Float64Array): typeof out {
  const {cols, groupSize, scales} = q;
  const ints = quantRowInts(q, r, new Int32Array(cols));
  const sr = r * Math.ceil(cols / groupSize);
  for (let c = 0; c < cols; c++) out[c] = ints[c] * scales[sr + Math.floor(c / groupSize)];
  return out;
}

/** The float32 matrix the quantised one stands for, [rows, cols]. */
export function dequantize(q: QuantMatrix): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  for (let r = 0; r < q.rows; r++) dequantizeRow(q, r, out.subarray(r * q.cols, (r + 1) * q.cols));
  return out;
}

/** Reference y = dequant(W) x, [rows]: per group, float64 sum of int * x, times the group's scale. */
export function quantMatvec(q: QuantMatrix, x: ArrayLike<number>): Float32Array {
  const {rows, cols, groupSize, scales} = q;
  if (x.length < cols) throw new RangeError(`quantMatvec: x has ${x.length} values, need ${cols}`);
  const nGroups = Math.ceil(cols / groupSize);
  const ints = new Int32Array(cols);
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    quantRowInts(q, r, ints);
    let acc = 0;
    for (let g = 0; g < nGroups; g++) {
      const c1 = Math.min(cols, (g + 1) * groupSize);
      let part = 0;
      for (let c = g * groupSize; c < c1; c++) part += ints[c] * x[c];
      acc += part * scales[r * nGroups + g];
    }
    y[r] = acc;
  }
  return y;
}

/**
 * Per-row upper bound on ||W_r - dequant(W)_r||_2 from the scales alone (|error| <= s/2 per
 * element): sqrt(sum_g n_g (s_g/2)^2). Needs no copy of W; quantRowErrors (predictors.ts) gives the
 * exact, tighter value.
 */
export function quantRowErrorBounds(q: QuantMatrix): Float64Array {
  const nGroups = Math.ceil(q.cols / q.groupSize);
  const out = new Float64Array(q.rows);
  for (let r = 0; r < q.rows; r++) {
    let ss = 0;
    for (let g = 0; g < nGroups; g++) {
      const n = Math.min(q.cols, (g + 1) * q.groupSize) - g * q.groupSize;
      const half = q.scales[r * nGroups + g] / 2;
      ss += n * half * half;
    }
    out[r] = Math.sqrt(ss);
  }
  return out;
}

/** Bytes a quantised matrix occupies (packed values + float32 scales). */
export function quantBytes(q: QuantMatrix): number {
  return q.data.byteLength + q.scales.byteLength;
}
