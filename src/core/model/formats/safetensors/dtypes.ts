/**
 * Safetensors element types and conversions between them.
 *
 * - `Dtype` names follow the safetensors header spelling (`"F32"`, `"BF16"`, ...).
 * - Half-precision helpers work on raw 16-bit patterns held in numbers or `Uint16Array`s, since
 *   JavaScript has no f16/bf16 number type. Encoding rounds to nearest, ties to even, and gets
 *   NaN, infinities, signed zero and subnormals right.
 * - Every multi-byte value is little-endian, as the format requires; the readers and writers in
 *   this folder assume a little-endian host (every platform Node supports in practice) and check.
 */

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Float dtypes, the ones `toFloat32` converts without any loss beyond f32 rounding. */
export type FloatDtype = 'F64' | 'F32' | 'F16' | 'BF16';

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** Every supported dtype. */
export const DTYPES: readonly Dtype[] = Object.freeze(Object.keys(DTYPE_BYTES) as Dtype[]);

export function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

export function isFloatDtype(d: Dtype): d is FloatDtype {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/**
 * The typed array a dtype's raw data is naturally viewed as (F16/BF16 as raw bit patterns).
 * `B` is the backing buffer type: `ArrayBuffer` for fresh arrays, `ArrayBufferLike` for views.
 */
export interface TypedArrayByDtype<B extends ArrayBufferLike = ArrayBufferLike> {
  F64: Float64Array<B>;
  F32: Float32Array<B>;
  F16: Uint16Array<B>;
  BF16: Uint16Array<B>;
  I64: BigInt64Array<B>;
  I32: Int32Array<B>;
  I16: Int16Array<B>;
  I8: Int8Array<B>;
  U8: Uint8Array<B>;
  BOOL: Uint8Array<B>;
}

type TypedArrayCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => unknown;

const VIEW_CTORS: Record<Dtype, TypedArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkWholeElements(dtype: Dtype, byteLength: number): void {
  const size = DTYPE_BYTES[dtype];
  if (byteLength % size !== 0) {
    throw new RangeError(`${byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
  }
}

/**
 * A typed view of `bytes` as `dtype` elements. Shares memory with `bytes` when its offset is
 * aligned to the element size, otherwise views a fresh aligned copy.
 */
export function viewAs<D extends Dtype>(dtype: D, bytes: Uint8Array): TypedArrayByDtype[D] {
  checkWholeElements(dtype, bytes.byteLength);
  const size = DTYPE_BYTES[dtype];
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const Ctor = VIEW_CTORS[dtype];
  return new Ctor(aligned.buffer, aligned.byteOffset, aligned.byteLength / size) as TypedArrayByDtype[D];
}

// ---------------------------------------------------------------------------------------------
// Scalar half-precision conversions.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** f32 bit pattern of the f16 value with bit pattern `h` (exact: every f16 is an f32). */
function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf / NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // +-0
  // Subnormal: value = mant * 2^-24; normalise so the leading one becomes the implicit bit.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

export function f16BitsToF32(bits: number): number {
  scratchU32[0] = f16ToF32Bits(bits & 0xffff);
  return scratchF32[0]!;
}

export function bf16BitsToF32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

function roundHalfEven(m: number): number {
  const f = Math.floor(m);
  const d = m - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Encodes a double as a 16-bit float with 1 sign bit, `16 - 1 - mantBits` exponent bits and the
 * given exponent bias, rounding once (to nearest, ties to even) straight from the double.
 * Every scaling below is by a power of two and therefore exact.
 */
function encodeHalf(x: number, mantBits: number, bias: number): number {
  const infBits = 0x7fff & ~((1 << mantBits) - 1); // exponent all ones, mantissa zero
  if (Number.isNaN(x)) return infBits | (1 << (mantBits - 1)); // canonical quiet NaN
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const eMin = 1 - bias;
  if (a < 2 ** eMin) {
    // Zero or subnormal: count units of the smallest subnormal, 2^(eMin - mantBits).
    // A result of 1 << mantBits is the smallest normal, whose encoding is exactly that integer.
    return sign | roundHalfEven(a * 2 ** (mantBits - eMin));
  }
  if (a === Infinity) return sign | infBits;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // Math.log2 may be off by one ulp next to powers of two
  else if (2 ** (e + 1) <= a) e++;
  if (e > bias) return sign | infBits;
  const m = roundHalfEven(a * 2 ** (mantBits - e)); // in [2^mantBits, 2^(mantBits+1)]
  // Adding lets a mantissa that rounded up to 2^(mantBits+1) carry into the exponent.
  const bits = ((e + bias) << mantBits) + m - (1 << mantBits);
  return sign | Math.min(bits, infBits);
}

/** IEEE binary16 bit pattern of `x`, rounded to nearest even. Values >= 65520 become Inf. */
export function f32ToF16Bits(x: number): number {
  return encodeHalf(x, 10, 15);
}

/** bfloat16 bit pattern of `x`, rounded to nearest even. */
export function f32ToBf16Bits(x: number): number {
  return encodeHalf(x, 7, 127);
}

// ---------------------------------------------------------------------------------------------
// Bulk conversions.

let f16Table: Uint32Array | undefined;

/** f32 bit patterns of all 65536 f16 values, built on first use (256 KB). */
function f16LookupTable(): Uint32Array {
  if (f16Table === undefined) {
    const t = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16ToF32Bits(h);
    f16Table = t;
  }
  return f16Table;
}

function checkSameLength(what: string, srcLength: number, dstLength: number): void {
  if (srcLength !== dstLength) {
    throw new RangeError(`${what}: destination holds ${dstLength} elements, source ${srcLength}`);
  }
}

/** Converts F16 or BF16 bit patterns to f32 values (exact). Writes into `dst` when given. */
export function halfToFloat32(dtype: 'F16' | 'BF16', src: Uint16Array): Float32Array<ArrayBuffer>;
export function halfToFloat32<T extends Float32Array>(dtype: 'F16' | 'BF16', src: Uint16Array, dst: T): T;
export function halfToFloat32(dtype: 'F16' | 'BF16', src: Uint16Array, dst?: Float32Array): Float32Array {
  const n = src.length;
  const out = dst ?? new Float32Array(n);
  checkSameLength('halfToFloat32', n, out.length);
  // Write bit patterns through a u32 view: exact, and NaN payloads survive.
  const out32 = new Uint32Array(out.buffer, out.byteOffset, n);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) out32[i] = src[i]! << 16;
  } else {
    const table = f16LookupTable();
    for (let i = 0; i < n; i++) out32[i] = table[src[i]!]!;
  }
  return out;
}

/** f16 bit pattern from f32 bits, for values already known to be f32 (the bulk path). */
function f32BitsToF16(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00; // canonical quiet NaN, as the scalar path
  if (a >= 0x477ff000) return sign | 0x7c00; // Inf, or >= 65520 which rounds to Inf
  if (a >= 0x38800000) {
    // Normal in f16: rebias the exponent (127 -> 15), then round 23 mantissa bits to 10.
    const r = a - 0x38000000;
    return sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
  }
  scratchU32[0] = a;
  return sign | roundHalfEven(scratchF32[0]! * 2 ** 24); // subnormal or zero, exact scaling
}

/** Converts f32 values to F16 or BF16 bit patterns, rounding to nearest even. */
export function float32ToHalf(dtype: 'F16' | 'BF16', src: Float32Array): Uint16Array<ArrayBuffer>;
export function float32ToHalf<T extends Uint16Array>(dtype: 'F16' | 'BF16', src: Float32Array, dst: T): T;
export function float32ToHalf(dtype: 'F16' | 'BF16', src: Float32Array, dst?: Uint16Array): Uint16Array {
  const n = src.length;
  const out = dst ?? new Uint16Array(n);
  checkSameLength('float32ToHalf', n, out.length);
  const src32 = new Uint32Array(src.buffer, src.byteOffset, n);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) {
      const u = src32[i]!;
      if ((u & 0x7fffffff) > 0x7f800000) out[i] = 0x7fc0; // canonical quiet NaN, as the scalar path
      else out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // carry may reach Inf: correct
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = f32BitsToF16(src32[i]!);
  }
  return out;
}

/**
 * Converts raw little-endian tensor bytes of any dtype to a fresh f32 array.
 * Float dtypes: exact for F16/BF16/F32, rounded for F64. Integer dtypes are converted by value
 * too (useful for int8/uint8 quantized weights and masks); values beyond 2^24 in magnitude round
 * to the nearest f32, and BOOL gives 0 or 1 as stored.
 */
export function toFloat32(dtype: Dtype, bytes: Uint8Array): Float32Array<ArrayBuffer> {
  if (!HOST_IS_LITTLE_ENDIAN) throw new RangeError('toFloat32 needs a little-endian host');
  checkWholeElements(dtype, bytes.byteLength);
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(bytes.byteLength / 4);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    case 'F16':
    case 'BF16':
      return halfToFloat32(dtype, viewAs(dtype, bytes));
    case 'I64': {
      const v = viewAs('I64', bytes);
      const out = new Float32Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!);
      return out;
    }
    default:
      return Float32Array.from(viewAs(dtype, bytes));
  }
}
