/**
 * ggml's block quantisation formats Q8_0 and Q4_0, byte for byte as llama.cpp defines them, so
 * that a GGUF tensor and our safetensors copy of it hold the same bytes (no re-quantising when a
 * file is converted either way). A row of `cols` weights is cols / 32 blocks, one after another:
 *
 *   q8_0  34 bytes: d (IEEE half, little-endian), then qs[32] int8;  w[j] = qs[j] * d
 *   q4_0  18 bytes: d (IEEE half), then qs[16] bytes: qs[j] holds w[j] in its low nibble and
 *                   w[j + 16] in its high nibble, each as an unsigned n with w = (n - 8) * d
 *
 * Quantising follows ggml's reference functions (quantize_row_q8_0_ref / quantize_row_q4_0_ref):
 *   q8_0: amax = max |x|, d = amax / 127, qs = roundf(x * (1/d))  (half away from zero)
 *   q4_0: m = the x of largest |x| (first one on ties), d = m / -8,
 *         n = min(15, trunc(x * (1/d) + 8.5))
 * with every step in float32 arithmetic, as the C code does; d is stored as the nearest half
 * (ties to even) while the quants are computed with the float32 d, as ggml does.
 */

/** The ggml block formats the decoder computes on. */
export type BlockFormat = 'q8_0' | 'q4_0';
export const BLOCK_FORMATS: readonly BlockFormat[] = ['q8_0', 'q4_0'];

/** Weights per block (both formats). */
export const BLOCK_SIZE = 32;

/** Bytes per block. */
export const BLOCK_BYTES: Readonly<Record<BlockFormat, number>> = Object.freeze({q8_0: 34, q4_0: 18});

export function isBlockFormat(s: unknown): s is BlockFormat {
  return s === 'q8_0' || s === 'q4_0';
}

/** Bytes of one row of `cols` weights (cols must be a multiple of 32). */
export function blockRowBytes(format: BlockFormat, cols: number): number {
  return (cols / BLOCK_SIZE) * BLOCK_BYTES[format];
}

// ---- IEEE half <-> float32 ---------------------------------------------------------------------

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The IEEE half bits nearest to x (ties to even; overflow to inf; NaN stays NaN). */
export function halfBits(x: number): number {
  F32[0] = x;
  const u = U32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const rest = mant & 0x1fff;
  let h = sign | (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent: still right
  return h;
}

/** The value of IEEE half bits h (exact). */
export function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

// ---- quantise / dequantise ---------------------------------------------------------------------

const f = Math.fround;

/** roundf: to nearest, halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** One Q8_0 block from x[from, from + 32) into out at byte o. */
function quantizeBlockQ8_0(x: ArrayLike<number>, from: number, out: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = 0; j < BLOCK_SIZE; j++) {
    const a = Math.abs(f(x[from + j]!));
    if (a > amax) amax = a; // MAX(amax, NaN) keeps amax, as ggml's MAX macro does with NaN second
  }
  const d = f(amax / 127);
  const id = d ? f(1 / d) : 0;
  const h = halfBits(d);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
  for (let j = 0; j < BLOCK_SIZE; j++) {
    const q = roundAway(f(f(x[from + j]!) * id));
    out[o + 2 + j] = (q === q ? q : 0) & 0xff; // |q| <= 127 by construction; NaN weights -> 0
  }
}

/** One Q4_0 block from x[from, from + 32) into out at byte o. */
function quantizeBlockQ4_0(x: ArrayLike<number>, from: number, out: Uint8Array, o: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < BLOCK_SIZE; j++) {
    const v = f(x[from + j]!);
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = f(max / -8);
  const id = d ? f(1 / d) : 0;
  const h = halfBits(d);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
  const nibble = (v: number) => {
    const t = Math.trunc(f(f(v * id) + 8.5)); // (int8_t) truncates; the value lies in [0, 16.5]
    return t === t ? Math.min(15, t) : 8; // a NaN weight decodes as 0
  };
  for (let j = 0; j < BLOCK_SIZE / 2; j++) {
    out[o + 2 + j] = nibble(f(x[from + j]!)) | (nibble(f(x[from + j + 16]!)) << 4);
  }
}

function checkCols(what: string, cols: number): void {
  if (!Number.isInteger(cols) || cols < BLOCK_SIZE || cols % BLOCK_SIZE !== 0) {
    throw new RangeError(`${what}: a row of ${cols} weights is not a whole number of ${BLOCK_SIZE}-weight blocks`);
  }
}

/** W [rows, cols] row-major -> the blocks of every row, rows * blockRowBytes(format, cols) bytes. */
export function quantizeBlocks(format: BlockFormat, w: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  checkCols('quantizeBlocks', cols);
  if (w.length < rows * cols) throw new RangeError(`quantizeBlocks: W has ${w.length} values, need ${rows * cols}`);
  const bb = BLOCK_BYTES[format];
  const out = new Uint8Array((rows * cols * bb) / BLOCK_SIZE);
  const one = format === 'q8_0' ? quantizeBlockQ8_0 : quantizeBlockQ4_0;
  for (let b = 0, n = (rows * cols) / BLOCK_SIZE; b < n; b++) one(w, b * BLOCK_SIZE, out, b * bb);
  return out;
}

/** The float32 weights of block b (32 values into out at `at`); exact: every product fits a float32. */
export function dequantizeBlock(format: BlockFormat, data: Uint8Array, b: number, out: Float32Array | Float64Array, at: number): void {
  const o = b * BLOCK_BYTES[format];
  const d = halfValue(data[o]! | (data[o + 1]! << 8));
  if (format === 'q8_0') {
    for (let j = 0; j < BLOCK_SIZE; j++) out[at + j] = ((data[o + 2 + j]! << 24) >> 24) * d;
  } else {
    for (let j = 0; j < BLOCK_SIZE / 2; j++) {
      const q = data[o + 2 + j]!;
      out[at + j] = ((q & 15) - 8) * d;
      out[at + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** Row r of a block matrix as float32 into out[0, cols). */
export function dequantizeBlockRow(format: BlockFormat, data: Uint8Array, r: number, cols: number, out: Float32Array | Float64Array): void {
  const per = cols / BLOCK_SIZE;
  for (let k = 0; k < per; k++) dequantizeBlock(format, data, r * per + k, out, k * BLOCK_SIZE);
}

/** The float32 matrix [rows, cols] a block matrix stands for. */
export function dequantizeBlocks(format: BlockFormat, data: Uint8Array, rows: number, cols: number): Float32Array {
  checkCols('dequantizeBlocks', cols);
  const need = rows * blockRowBytes(format, cols);
  if (data.byteLength < need) throw new RangeError(`dequantizeBlocks: ${data.byteLength} bytes, need ${need} for [${rows}, ${cols}] ${format}`);
  const out = new Float32Array(rows * cols);
  for (let b = 0, n = (rows * cols) / BLOCK_SIZE; b < n; b++) dequantizeBlock(format, data, b, out, b * BLOCK_SIZE);
  return out;
}
