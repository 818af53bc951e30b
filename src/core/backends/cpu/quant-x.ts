/**
 * The "prepared x" that the int8 / int4 matvec kernels read instead of x: its own file because
 * it is the one piece of host-side arithmetic the quantised kernels need, and kernels.ts holds
 * the kernel calls.
 */
import type {WasmMemory} from './wasm-api.js';

/** Powers of two the q8 / q4 kernels leave on their integer weights, folded into the prepared x. */
const Q8_SCALE = 2 ** -16;
const Q4_SCALE = 2 ** -28;
const Q4_SCALE_HI = 2 ** -20;

/**
 * Writes the prepared x for `bits`-bit weights to xq (cols f32, layout in kernels.wat,
 * "Quantized weights"): each group of groupSize columns is cut into chunks (8 columns for int8,
 * 16 for int4) whose values are reordered to match the i32 lanes the kernel builds and scaled by
 * the power of two that its integer trick leaves on the weights; the group's last
 * groupSize % chunk columns are copied unchanged. x need not be 4-byte aligned.
 */
export function prepareQuantX(memory: WasmMemory, bits: 8 | 4, x: number, xq: number, cols: number, groupSize: number): void {
  const buf = memory.buffer;
  const src = x % 4 === 0 ? new Float32Array(buf, x, cols) : new Float32Array(buf.slice(x, x + cols * 4));
  const dst = new Float32Array(buf, xq, cols);
  const chunkCols = bits === 4 ? 16 : 8;
  const chunked = groupSize - (groupSize % chunkCols);
  for (let g0 = 0; g0 < cols; g0 += groupSize) {
    let c = g0;
    if (bits === 4) {
      // lane k of a chunk holds columns c+4k .. c+4k+3; vector o takes column c+4k+o
      for (const end = g0 + chunked; c < end; c += 16) {
        for (let o = 0; o < 4; o++) {
          const m = o === 3 ? Q4_SCALE_HI : Q4_SCALE;
          for (let k = 0; k < 4; k++) dst[c + 4 * o + k] = src[c + 4 * k + o]! * m;
        }
      }
    } else {
      // lane k of a chunk holds columns c+2k (first vector) and c+2k+1 (second)
      for (const end = g0 + chunked; c < end; c += 8) {
        for (let k = 0; k < 4; k++) {
          dst[c + k] = src[c + 2 * k]! * Q8_SCALE;
          dst[c + 4 + k] = src[c + 2 * k + 1]! * Q8_SCALE;
        }
      }
    }
    for (const end = g0 + groupSize; c < end; c++) dst[c] = src[c]!;
  }
}

/** Bytes of the rounded x of roundQuantX for cols columns in groups of groupSize. */
export function roundedXBytes(cols: number, groupSize: number): number {
  return cols + 8 * (cols / groupSize);
}

/**
 * Writes the rounded x that matvec_qi reads (layout in kernels.wat, "against a ROUNDED x") to xq:
 * each group of groupSize columns (a multiple of 32) as int8 values round(x / dx), dx = max |x| /
 * 127 over the group (0 for a zero group), for q4 each 32 columns as the even ones then the odd
 * ones; then the groups' dx; then their corrections (q4: 8 * sum of the group's values; q8: 0).
 * The rounding error of each value is at most dx / 2. Non-finite values make NaN results.
 */
export function roundQuantX(memory: WasmMemory, bits: 8 | 4, x: number, xq: number, cols: number, groupSize: number): void {
  const buf = memory.buffer;
  const src = x % 4 === 0 ? new Float32Array(buf, x, cols) : new Float32Array(buf.slice(x, x + cols * 4));
  const ng = cols / groupSize;
  const q = new Int8Array(buf, xq, cols);
  const dx = new Float32Array(buf, xq + cols, ng);
  const corr = new Int32Array(buf, xq + cols + 4 * ng, ng);
  for (let g = 0; g < ng; g++) {
    const g0 = g * groupSize;
    let amax = 0;
    for (let c = g0; c < g0 + groupSize; c++) amax = Math.max(amax, Math.abs(src[c]!));
    const d = Math.fround(amax / 127);
    const inv = d > 0 ? 1 / d : 0;
    let sum = 0;
    for (let c = g0; c < g0 + groupSize; c++) {
      const v = Math.max(-127, Math.min(127, Math.round(src[c]! * inv)));
      // q4: within each 32 columns, column c0 + 2k goes to byte k, column c0 + 2k + 1 to byte 16 + k
      const o = c - ((c - g0) % 32);
      const at = bits === 4 ? o + ((c - o) % 2) * 16 + ((c - o) >> 1) : c;
      q[at] = v;
      sum += v;
    }
    dx[g] = d;
    corr[g] = bits === 4 ? 8 * sum : 0;
  }
}
