/**
 * ggml's "K" super-block formats Q4_K, Q5_K and Q6_K, dequantised to float32 exactly as llama.cpp's
 * dequantize_row_q4_K / _q5_K / _q6_K define them (256 weights per super-block). hire has no
 * kernels for them: a GGUF tensor in one of these is converted to Q8_0 when read (one more
 * rounding, to a 127-level grid per 32 weights, far finer than the source's 16/32/64 levels).
 *
 *   Q4_K 144 bytes: d, dmin (halves), scales[12] (8 six-bit scales and mins), qs[128] (4-bit)
 *   Q5_K 176 bytes: d, dmin, scales[12], qh[32] (5th bits), qs[128]
 *   Q6_K 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d (half)
 */
import {halfValue} from '../../../numeric/ggml-quant.js';

export type KQuant = 'Q4_K' | 'Q5_K' | 'Q6_K';
export const K_BLOCK_BYTES: Readonly<Record<KQuant, number>> = {Q4_K: 144, Q5_K: 176, Q6_K: 210};

const f = Math.fround;
const half = (b: Uint8Array, o: number) => halfValue(b[o]! | (b[o + 1]! << 8));

/** Scale and min number j (0..7) of the 12 packed bytes at s (get_scale_min_k4). */
function scaleMin(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j]! & 63, b[s + j + 4]! & 63];
  return [(b[s + j + 4]! & 0xf) | ((b[s + j - 4]! >> 6) << 4), (b[s + j + 4]! >> 4) | ((b[s + j]! >> 6) << 4)];
}

function q4k(b: Uint8Array, o: number, y: Float32Array, at: number): void {
  const d = half(b, o);
  const min = half(b, o + 2);
  let q = o + 16;
  for (let j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
    const [sc1, m1] = scaleMin(b, o + 4, is);
    const [sc2, m2] = scaleMin(b, o + 4, is + 1);
    const [d1, mm1, d2, mm2] = [f(d * sc1), f(min * m1), f(d * sc2), f(min * m2)];
    for (let l = 0; l < 32; l++) y[at + j + l] = f(d1 * (b[q + l]! & 0xf)) - mm1;
    for (let l = 0; l < 32; l++) y[at + j + 32 + l] = f(d2 * (b[q + l]! >> 4)) - mm2;
  }
}

function q5k(b: Uint8Array, o: number, y: Float32Array, at: number): void {
  const d = half(b, o);
  const min = half(b, o + 2);
  const qh = o + 16;
  let ql = o + 48;
  let [u1, u2] = [1, 2];
  for (let j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    const [sc1, m1] = scaleMin(b, o + 4, is);
    const [sc2, m2] = scaleMin(b, o + 4, is + 1);
    const [d1, mm1, d2, mm2] = [f(d * sc1), f(min * m1), f(d * sc2), f(min * m2)];
    for (let l = 0; l < 32; l++) y[at + j + l] = f(d1 * ((b[ql + l]! & 0xf) + (b[qh + l]! & u1 ? 16 : 0))) - mm1;
    for (let l = 0; l < 32; l++) y[at + j + 32 + l] = f(d2 * ((b[ql + l]! >> 4) + (b[qh + l]! & u2 ? 16 : 0))) - mm2;
  }
}

function q6k(b: Uint8Array, o: number, y: Float32Array, at: number): void {
  const d = half(b, o + 208);
  let [ql, qh, sc] = [o, o + 128, o + 192];
  for (let n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const s = (k: number) => (b[sc + is + k]! << 24) >> 24;
      const q1 = ((b[ql + l]! & 0xf) | (((b[qh + l]! >> 0) & 3) << 4)) - 32;
      const q2 = ((b[ql + l + 32]! & 0xf) | (((b[qh + l]! >> 2) & 3) << 4)) - 32;
      const q3 = ((b[ql + l]! >> 4) | (((b[qh + l]! >> 4) & 3) << 4)) - 32;
      const q4 = ((b[ql + l + 32]! >> 4) | (((b[qh + l]! >> 6) & 3) << 4)) - 32;
      y[at + n + l] = f(f(d * s(0)) * q1);
      y[at + n + l + 32] = f(f(d * s(2)) * q2);
      y[at + n + l + 64] = f(f(d * s(4)) * q3);
      y[at + n + l + 96] = f(f(d * s(6)) * q4);
    }
  }
}

/** The float32 values of `count` weights (a multiple of 256) held in K super-blocks. */
export function dequantizeK(type: KQuant, data: Uint8Array, count: number): Float32Array {
  const y = new Float32Array(count);
  const bb = K_BLOCK_BYTES[type];
  const one = type === 'Q4_K' ? q4k : type === 'Q5_K' ? q5k : q6k;
  for (let b = 0; b < count / 256; b++) one(data, b * bb, y, b * 256);
  return y;
}
