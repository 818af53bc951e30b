/**
 * The kernels the tfjs backend runs on the host, as pure functions over typed arrays: one-query
 * attention over a host KV cache and the rotary embedding. Both are small next to the weight
 * matvecs, and as tfjs graphs they would cost more in per-op dispatch than in arithmetic.
 * Accumulation is in float64 (JS numbers), as in the reference backend.
 */
import type {AttentionShape} from '../backend.js';

/**
 * Causal attention of one query over positions 0..pos of one layer's cache.
 * q: [nHeads * headDim]; keys, values: (maxSeqLen, nKvHeads * headDim); returns [nHeads * headDim].
 */
export function attendHost(
  q: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  pos: number,
  shape: AttentionShape,
): Float32Array {
  const {nHeads, nKvHeads, headDim} = shape;
  const kvDim = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float32Array(nHeads * headDim);
  const scores = new Float64Array(pos + 1);
  const acc = new Float64Array(headDim);
  for (let h = 0; h < nHeads; h++) {
    const qOff = h * headDim;
    const kvOff = Math.floor(h / group) * headDim;
    // scores[t] = q . k_t / sqrt(headDim), then a max-shifted softmax
    let max = -Infinity;
    for (let t = 0; t <= pos; t++) {
      const base = t * kvDim + kvOff;
      let dot = 0;
      for (let i = 0; i < headDim; i++) dot += q[qOff + i]! * keys[base + i]!;
      const s = dot * scale;
      scores[t] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t = 0; t <= pos; t++) {
      const e = Math.exp(scores[t]! - max);
      scores[t] = e;
      sum += e;
    }
    // out_h = sum_t p_t v_t, walking each cached row contiguously
    acc.fill(0);
    for (let t = 0; t <= pos; t++) {
      const p = scores[t]!;
      const base = t * kvDim + kvOff;
      for (let i = 0; i < headDim; i++) acc[i] += p * values[base + i]!;
    }
    for (let i = 0; i < headDim; i++) out[qOff + i] = acc[i]! / sum;
  }
  return out;
}

/** cos and sin of pos * invFreq[i] for the headDim/2 rotation pairs. */
export interface RopeAngles {
  pos: number;
  cos: Float64Array;
  sin: Float64Array;
}

export function ropeAngles(invFreq: Float64Array, pos: number): RopeAngles {
  const half = invFreq.length;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const angle = pos * invFreq[i]!;
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  return {pos, cos, sin};
}

/** Rotates each head of x (rotate_half layout: pairs (i, i + headDim/2)); returns a new array. */
export function ropeHost(x: Float32Array, nHeads: number, headDim: number, angles: RopeAngles): Float32Array {
  const half = headDim / 2;
  const {cos, sin} = angles;
  const out = Float32Array.from(x);
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      const a = x[base + i]!;
      const b = x[base + i + half]!;
      out[base + i] = a * cos[i]! - b * sin[i]!;
      out[base + i + half] = b * cos[i]! + a * sin[i]!;
    }
  }
  return out;
}
