/** Shared test helpers: a seeded RNG, scalar conversions and float64 reference kernels. */
import type {CpuKernels, DenseDtype} from '../../../../src/core/backends/cpu/kernels.js';

export {rng} from '../../../helpers/random.js';

export function randomF32(n: number, rand: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() * 2 - 1;
  return out;
}

/** bf16 bits with exponents around 2^-27..2^13 (finite). */
export function randomBf16(n: number, rand: () => number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = rand() < 0.5 ? 0x8000 : 0;
    const e = 100 + Math.floor(rand() * 40);
    out[i] = sign | (e << 7) | Math.floor(rand() * 128);
  }
  return out;
}

/** f16 bits with exponent fields 0..20: zeros, subnormals and normals up to 2^5 (finite). */
export function randomF16(n: number, rand: () => number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const sign = rand() < 0.5 ? 0x8000 : 0;
    const e = Math.floor(rand() * 21);
    out[i] = sign | (e << 10) | Math.floor(rand() * 1024);
  }
  return out;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function bitsToF32(bits: number): number {
  u32buf[0] = bits >>> 0;
  return f32buf[0]!;
}

export function f32Bits(v: number): number {
  f32buf[0] = v;
  return u32buf[0]!;
}

export function bf16ToF32(h: number): number {
  return bitsToF32(h << 16);
}

/** IEEE half bits -> f32 bits (NaN payload shifted into the f32 mantissa). */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 31;
  const m = h & 0x3ff;
  if (e === 31) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  const magnitude = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
  return (sign | f32Bits(magnitude)) >>> 0;
}

export function f16ToF32(h: number): number {
  return bitsToF32(f16ToF32Bits(h));
}

/** Weights as float64 values, whatever their storage. */
export function weightValues(dtype: DenseDtype, w: Float32Array | Uint16Array): Float64Array {
  const out = new Float64Array(w.length);
  for (let i = 0; i < w.length; i++) {
    out[i] = dtype === 'f32' ? w[i]! : dtype === 'bf16' ? bf16ToF32(w[i]!) : f16ToF32(w[i]!);
  }
  return out;
}

/** Float64 dot of row r with x, and the sum of |products| (the scale of rounding error). */
export function refRow(w: Float64Array, cols: number, r: number, x: Float32Array): {y: number; mag: number} {
  let y = 0;
  let mag = 0;
  for (let c = 0; c < cols; c++) {
    const p = w[r * cols + c]! * x[c]!;
    y += p;
    mag += Math.abs(p);
  }
  return {y, mag};
}

/**
 * f32 accumulation tolerance: |y - ref| <= 1e-5 * sum|w x| + 1e-30. The kernels sum in f32 over
 * 8 lanes then a short tree, so the error is at most ~(cols / 8 + 4) * 2^-24 * sum|w x| (under
 * 1e-5 for cols <= 1000) and usually far less.
 */
export function expectClose(actual: number, ref: {y: number; mag: number}, what: string): void {
  const err = Math.abs(actual - ref.y);
  if (!(err <= 1e-5 * ref.mag + 1e-30)) {
    throw new Error(`${what}: got ${actual}, expected ${ref.y} (error ${err}, scale ${ref.mag})`);
  }
}

/** Allocates and fills a copy of `data`; returns its pointer. */
export function put(k: CpuKernels, data: Float32Array | Uint16Array | Int32Array | Int8Array | Uint8Array): number {
  const ptr = k.alloc(data.byteLength);
  k.u8(ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return ptr;
}
