/**
 * Kernels the tfjs and cpu backends run in plain JS, as pure functions over typed arrays: one-query
 * attention over a host KV cache, the rotary embedding, the norms, and the weight transpose. They are small next to the
 * weight matvecs, and as chains of tfjs ops they cost more in per-op dispatch (about 5 us an op on
 * tfjs-wasm) than reading the vector out, computing here and uploading the result (about 3 us).
 * Accumulation is in float64 (JS numbers), as in the reference backend. Inputs are never written:
 * on the tfjs cpu engine they are the engine's own storage.
 */
import type {AttentionShape, Backend, TopK, Vec} from '../backend.js';
import {keepTopKInPlace, topKAscending, topKIndices} from '../../numeric/select.js';

/**
 * Causal attention of one query over positions 0..pos of one layer's cache.
 * q: [nHeads * headDim]; keys, values: (maxSeqLen, nKvHeads * headDim); returns [nHeads * headDim].
 * The inner loops are unrolled by four with separate accumulators (about 1.4x over plain loops);
 * JS stays near 1 GMAC/s, so at long contexts this, not the matvecs, sets the pace.
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
  const hd4 = headDim - (headDim % 4);
  const out = new Float32Array(nHeads * headDim);
  const scores = new Float64Array(pos + 1);
  const qh = new Float64Array(headDim);
  const acc = new Float64Array(headDim);
  for (let h = 0; h < nHeads; h++) {
    const qOff = h * headDim;
    const kvOff = Math.floor(h / group) * headDim;
    for (let i = 0; i < headDim; i++) qh[i] = q[qOff + i]!;
    // scores[t] = q . k_t / sqrt(headDim), then a max-shifted softmax
    let max = -Infinity;
    for (let t = 0; t <= pos; t++) {
      const base = t * kvDim + kvOff;
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      let i = 0;
      for (; i < hd4; i += 4) {
        d0 += qh[i]! * keys[base + i]!;
        d1 += qh[i + 1]! * keys[base + i + 1]!;
        d2 += qh[i + 2]! * keys[base + i + 2]!;
        d3 += qh[i + 3]! * keys[base + i + 3]!;
      }
      for (; i < headDim; i++) d0 += qh[i]! * keys[base + i]!;
      const s = (d0 + d1 + d2 + d3) * scale;
      scores[t] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t = 0; t <= pos; t++) {
      const e = Math.exp(scores[t]! - max);
      scores[t] = e;
      sum += e;
    }
    // out_h = sum_t p_t v_t / sum, walking each cached row contiguously
    acc.fill(0);
    for (let t = 0; t <= pos; t++) {
      const p = scores[t]!;
      const base = t * kvDim + kvOff;
      let i = 0;
      for (; i < hd4; i += 4) {
        acc[i] += p * values[base + i]!;
        acc[i + 1] += p * values[base + i + 1]!;
        acc[i + 2] += p * values[base + i + 2]!;
        acc[i + 3] += p * values[base + i + 3]!;
      }
      for (; i < headDim; i++) acc[i] += p * values[base + i]!;
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

/** x / rms(x) * weight. */
export function rmsNormHost(x: Float32Array, weight: Float32Array, eps: number): Float32Array {
  const n = x.length;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / n + eps);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i]! * scale * weight[i]!;
  return out;
}

/** (x - mean) / std * weight + bias, with the two-pass variance. */
export function layerNormHost(x: Float32Array, weight: Float32Array, bias: Float32Array, eps: number): Float32Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i]! - mean) ** 2;
  const scale = 1 / Math.sqrt(variance / n + eps);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * scale * weight[i]! + bias[i]!;
  return out;
}

/** [rows, cols] row-major -> [cols, rows] row-major, in 16x16 tiles (about 2x tfjs-wasm's transpose). */
export function transposeHost(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = new Float32Array(rows * cols);
  const tile = 16;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[base + c]!;
      }
    }
  }
  return dst;
}

/**
 * In place: zero every entry of x but its k largest (by |x| when byMagnitude, else by value),
 * ties to the lower index, NaN ranking as -Infinity (topKAscending). The reference for Backend.keepTopK.
 */
export function keepTopKHost(x: {length: number; [i: number]: number}, k: number, byMagnitude: boolean): void {
  if (x instanceof Float32Array) return keepTopKInPlace(x, k, byMagnitude);
  const n = x.length;
  if (k >= n) return;
  if (k <= 0) {
    for (let i = 0; i < n; i++) x[i] = 0;
    return;
  }
  const key = new Float32Array(n);
  for (let i = 0; i < n; i++) key[i] = byMagnitude ? Math.abs(x[i]!) : x[i]!;
  const kept = topKAscending(key, k); // ascending indices
  for (let i = 0, j = 0; i < n; i++) {
    if (kept[j] === i) j++;
    else x[i] = 0;
  }
}

/** Backend.topK for backends whose vectors live on the host: read x, then topKIndices. */
export async function topKHost(backend: Backend, x: Vec, k: number): Promise<TopK> {
  const values = await backend.read(x);
  const ids = topKIndices(values, k);
  return {ids, values: Float32Array.from(ids, (i) => values[i]!)};
}
