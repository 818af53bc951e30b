/**
 * A HiRE-Softmax predictor as it lives in host memory and in a bundle: what kind it is, its
 * tensors, and the per-row error norms of certified mode. Fitting is fit-lowrank.ts / numeric/quant.ts;
 * this file names, sizes and (de)serialises the results.
 *
 *   kind            approximate logits z~                 tensors in hire.safetensors
 *   lowrank         A (B h)        A [V, r] f32            softmax.<name>.A, .B, .err
 *   quant           dequant(Wq) h  Wq int8/4/2 [V, d]      softmax.<name>.Wq (+ .Wq.scales), .err
 *   lowrank+quant   dequant(Aq) (B h)                      softmax.<name>.Aq (+ .Aq.scales), .B, .err
 */
import type {TensorData} from '../../model/formats/safetensors/index.js';
import type {QuantBits, QuantMatrix} from '../../numeric/quant.js';
import {quantRowBytes} from '../../numeric/quant.js';

export type SoftmaxKind = 'lowrank' | 'quant' | 'lowrank+quant';
export const SOFTMAX_KINDS: readonly SoftmaxKind[] = ['lowrank', 'quant', 'lowrank+quant'];
export type LowRankFit = 'svd' | 'data-aware';

export interface SoftmaxPredictor {
  /** Unique within a bundle, e.g. "lowrank-r64-data-aware" or "quant-int4-g64". */
  name: string;
  kind: SoftmaxKind;
  vocabSize: number;
  dim: number;
  fit: LowRankFit | null;
  rank: number | null;
  bits: QuantBits | null;
  groupSize: number | null;
  /** [rank, dim] (low-rank kinds). */
  B: Float32Array | null;
  /** [vocabSize, rank] f32 (lowrank). */
  A: Float32Array | null;
  /** Quantised A (lowrank+quant) or quantised W (quant). */
  Q: QuantMatrix | null;
  /** e_i = ||W_i - W~_i||_2, rounded up to f32 [vocabSize]. */
  errNorms: Float32Array;
}

export function predictorName(kind: SoftmaxKind, o: {fit?: LowRankFit | null; rank?: number | null; bits?: number | null; groupSize?: number | null}): string {
  switch (kind) {
    case 'lowrank':
      return `lowrank-r${o.rank}-${o.fit}`;
    case 'quant':
      return `quant-int${o.bits}-g${o.groupSize}`;
    case 'lowrank+quant':
      return `lowrank-r${o.rank}-${o.fit}+int${o.bits}`;
  }
}

/** Bytes the predictor reads per token (the error norms only in certified mode, not counted). */
export function predictorBytes(p: SoftmaxPredictor): number {
  let bytes = 0;
  if (p.B) bytes += p.B.byteLength;
  if (p.A) bytes += p.A.byteLength;
  if (p.Q) bytes += p.Q.data.byteLength + p.Q.scales.byteLength;
  return bytes;
}

/**
 * The predictor's tensors, named for hire.safetensors. The same predictor kinds serve HiRE-FFN
 * (one per layer, rows = hiddenDim), under the prefix `ffn.<layer>`.
 */
export function predictorTensors(p: SoftmaxPredictor, prefix = 'softmax'): Map<string, TensorData> {
  const t = new Map<string, TensorData>();
  const key = `${prefix}.${p.name}`;
  if (p.B) t.set(`${key}.B`, {dtype: 'F32', shape: [p.rank!, p.dim], data: p.B});
  if (p.A) t.set(`${key}.A`, {dtype: 'F32', shape: [p.vocabSize, p.rank!], data: p.A});
  if (p.Q) {
    const name = p.kind === 'quant' ? 'Wq' : 'Aq';
    t.set(`${key}.${name}`, {dtype: 'U8', shape: [p.Q.rows, quantRowBytes(p.Q.bits, p.Q.cols)], data: p.Q.data});
    t.set(`${key}.${name}.scales`, {dtype: 'F32', shape: [p.Q.scales.length], data: p.Q.scales});
  }
  t.set(`${key}.err`, {dtype: 'F32', shape: [p.vocabSize], data: p.errNorms});
  return t;
}

/** What hire.json records of a predictor (tensors are found by name). */
export interface PredictorMeta {
  name: string;
  kind: SoftmaxKind;
  fit: LowRankFit | null;
  rank: number | null;
  bits: QuantBits | null;
  groupSize: number | null;
  bytesPerToken: number;
}

export function predictorMeta(p: SoftmaxPredictor): PredictorMeta {
  return {name: p.name, kind: p.kind, fit: p.fit, rank: p.rank, bits: p.bits, groupSize: p.groupSize, bytesPerToken: predictorBytes(p)};
}

/**
 * What a predictor tensor must hold beyond its shape, checked as a bundle is read: every float
 * value finite, and these rules.
 */
export interface TensorRule {
  /** 'bytes': packed quantised values (U8); 'float' (default): a float dtype, read as f32. */
  data?: 'bytes' | 'float';
  /** Not every value zero: a factor or scales of zeros rank nothing. */
  nonZero?: boolean;
  /** No value below zero (scales, error norms). */
  nonNegative?: boolean;
}

const FACTOR: TensorRule = {nonZero: true};
const SCALES: TensorRule = {nonZero: true, nonNegative: true};
const NORMS: TensorRule = {nonNegative: true};

/** Rebuilds a predictor from its metadata and a tensor reader; `read` throws naming what is missing or bad. */
export function predictorFromTensors(
  meta: PredictorMeta,
  vocabSize: number,
  dim: number,
  read: (name: string, shape: number[], rule?: TensorRule) => Uint8Array | Float32Array,
  prefix = 'softmax',
): SoftmaxPredictor {
  const key = `${prefix}.${meta.name}`;
  const lowRank = meta.kind !== 'quant';
  const r = meta.rank ?? 0;
  const quantOf = (name: string, rows: number, cols: number): QuantMatrix => {
    const bits = meta.bits!;
    const groupSize = meta.groupSize!;
    const data = read(`${key}.${name}`, [rows, quantRowBytes(bits, cols)], {data: 'bytes'}) as Uint8Array;
    const scales = read(`${key}.${name}.scales`, [rows * Math.ceil(cols / groupSize)], SCALES) as Float32Array;
    return {bits, rows, cols, groupSize, data, scales};
  };
  return {
    ...meta,
    vocabSize,
    dim,
    B: lowRank ? (read(`${key}.B`, [r, dim], FACTOR) as Float32Array) : null,
    A: meta.kind === 'lowrank' ? (read(`${key}.A`, [vocabSize, r], FACTOR) as Float32Array) : null,
    Q: meta.kind === 'quant' ? quantOf('Wq', vocabSize, dim) : meta.kind === 'lowrank+quant' ? quantOf('Aq', vocabSize, r) : null,
    errNorms: read(`${key}.err`, [vocabSize], NORMS) as Float32Array,
  };
}
