import {BackendError} from '../../errors.js';

/**
 * Symmetric group quantization for the matvecQ8 / matvecQ4 kernels.
 *
 * W [rows, cols] is cut into groups of `groupSize` consecutive columns per row (groupSize must
 * divide cols; groupSize == cols is one scale per row). Each group has one f32 scale
 * s = maxabs / 127 (int8) or maxabs / 7 (int4) and W[r, c] ~= q[r, c] * s[r, c / groupSize];
 * q = round(W / s), so int8 values lie in [-127, 127] and int4 values in [-7, 7] (the kernels
 * also accept -8). An all-zero group gets s = 0.
 *
 * Storage: scales [rows, cols / groupSize] f32 row-major. int8 data [rows, cols] row-major.
 * int4 data [rows, ceil(cols / 2)] bytes: byte j of a row holds column 2j in its low nibble and
 * column 2j + 1 in its high nibble, two's complement; for odd cols the last high nibble is 0.
 * int4 groupSize must be even unless it equals cols.
 */
export interface Quantized {
  data: Int8Array | Uint8Array;
  scales: Float32Array;
}

export interface QuantizedQ8 extends Quantized {
  data: Int8Array;
}

export interface QuantizedQ4 extends Quantized {
  data: Uint8Array;
}

/** Bytes per row of packed int4 weights. */
export function q4RowBytes(cols: number): number {
  return Math.ceil(cols / 2);
}

export function quantizeQ8(w: Float32Array, rows: number, cols: number, groupSize: number): QuantizedQ8 {
  checkShape('quantizeQ8', w.length, rows, cols, groupSize, false);
  const data = new Int8Array(rows * cols);
  const scales = groupScales(w, rows, cols, groupSize, 127);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      data[r * cols + c] = quantizeOne(w[r * cols + c]!, scales[(r * cols + c) / groupSize | 0]!, 127);
    }
  }
  return {data, scales};
}

export function quantizeQ4(w: Float32Array, rows: number, cols: number, groupSize: number): QuantizedQ4 {
  checkShape('quantizeQ4', w.length, rows, cols, groupSize, true);
  const rowBytes = q4RowBytes(cols);
  const data = new Uint8Array(rows * rowBytes);
  const scales = groupScales(w, rows, cols, groupSize, 7);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = quantizeOne(w[r * cols + c]!, scales[(r * cols + c) / groupSize | 0]!, 7) & 0x0f;
      data[r * rowBytes + (c >> 1)]! |= c & 1 ? q << 4 : q;
    }
  }
  return {data, scales};
}

export function dequantizeQ8(data: Int8Array, scales: Float32Array, rows: number, cols: number, groupSize: number): Float32Array {
  checkShape('dequantizeQ8', data.length, rows, cols, groupSize, false);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) out[i] = data[i]! * scales[(i / groupSize) | 0]!;
  return out;
}

export function dequantizeQ4(data: Uint8Array, scales: Float32Array, rows: number, cols: number, groupSize: number): Float32Array {
  checkShape('dequantizeQ4', data.length, rows, cols, groupSize, true);
  const rowBytes = q4RowBytes(cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = q4Value(data, r * rowBytes, c) * scales[((r * cols + c) / groupSize) | 0]!;
    }
  }
  return out;
}

/** Signed int4 value of column c of the row whose packed bytes start at rowStart. */
export function q4Value(data: Uint8Array, rowStart: number, c: number): number {
  const byte = data[rowStart + (c >> 1)]!;
  const nibble = c & 1 ? byte >> 4 : byte & 0x0f;
  return (nibble ^ 8) - 8;
}

function groupScales(w: Float32Array, rows: number, cols: number, groupSize: number, qmax: number): Float32Array {
  const scales = new Float32Array((rows * cols) / groupSize);
  for (let g = 0; g < scales.length; g++) {
    let maxAbs = 0;
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i]!));
    scales[g] = maxAbs / qmax;
  }
  return scales;
}

function quantizeOne(v: number, scale: number, qmax: number): number {
  if (scale === 0) return 0;
  return Math.max(-qmax, Math.min(qmax, Math.round(v / scale)));
}

function checkShape(what: string, length: number, rows: number, cols: number, groupSize: number, q4: boolean): void {
  const expected = rows * (q4 && what.startsWith('de') ? q4RowBytes(cols) : cols);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1 || length !== expected) {
    throw new BackendError(`${what}: data of length ${length} does not match shape [${rows}, ${cols}]`);
  }
  if (!Number.isInteger(groupSize) || groupSize < 1 || cols % groupSize !== 0) {
    throw new BackendError(`${what}: groupSize ${groupSize} must be a positive divisor of cols ${cols}`);
  }
  if (q4 && groupSize % 2 !== 0 && groupSize !== cols) {
    throw new BackendError(`${what}: int4 groupSize ${groupSize} must be even (or equal cols)`);
  }
}
