/**
 * HiRE-Softmax predictors of z = W h (W: [vocabSize, dim]): low-rank (A B), low-rank with A
 * quantised, and the per-row error norms e_i = ||W_i - W~_i||_2 that certified mode needs.
 * Quantising W itself (HiRE-Q) is numeric/quant.ts. All pure functions over typed arrays.
 */
import {cholesky, NumericalError, roundUpF32, secondMoment, solveLowerRight} from '../../numeric/linalg.js';
import {quantize, quantMatvec, dequantizeRow, type QuantMatrix} from '../../numeric/quant.js';
import {
  denseOperator,
  randomizedSvd,
  rightLowerOperator,
  type LinearOperator,
  type RandomizedSvdOptions,
  type TruncatedSvd,
} from '../../numeric/randomized-svd.js';

/** W ~ A B. */
export interface LowRank {
  rank: number;
  /** [vocabSize, rank] = U_r S_r. */
  A: Float32Array;
  /** [rank, dim]. */
  B: Float32Array;
}

/** W ~ dequant(A) B, A quantised per row (or per group) to int8/int4. */
export interface LowRankQuant {
  rank: number;
  /** [vocabSize, rank]. */
  A: QuantMatrix;
  /** [rank, dim]. */
  B: Float32Array;
}

export interface FitOptions extends Partial<RandomizedSvdOptions> {
  /** Relative ridge of the Cholesky factor of the second moment (data-aware fit only; default 1e-6). */
  ridge?: number;
  /**
   * Products with W from a fast backend (must represent the same [vocabSize, dim] matrix); default
   * denseOperator(W). W itself is still read for shape checks only.
   */
  operator?: LinearOperator;
}

function checkFit(w: Float32Array, vocabSize: number, dim: number, rank: number): void {
  if (w.length < vocabSize * dim) throw new RangeError(`low-rank fit: W has ${w.length} values, need ${vocabSize * dim}`);
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(vocabSize, dim)) {
    throw new RangeError(`low-rank fit: rank must be an integer in [1, min(vocabSize, dim) = ${Math.min(vocabSize, dim)}], got ${rank}`);
  }
}

/** A = U_r S_r as float32. */
function scaledU(svd: TruncatedSvd, rows: number, rank: number): Float32Array {
  const a = new Float32Array(rows * rank);
  for (let i = 0; i < rows * rank; i++) a[i] = svd.U[i] * svd.S[i % rank];
  return a;
}

/** Baseline: plain truncated SVD, A = U_r S_r [vocabSize, r], B = Vt_r [r, dim]. */
export function fitLowRankSvd(
  w: Float32Array,
  vocabSize: number,
  dim: number,
  rank: number,
  seed: number,
  opts: FitOptions = {},
): LowRank {
  checkFit(w, vocabSize, dim, rank);
  const svd = randomizedSvd(opts.operator ?? denseOperator(w, vocabSize, dim), rank, {...opts, seed});
  return {rank, A: scaledU(svd, vocabSize, rank), B: Float32Array.from(svd.Vt)};
}

/**
 * Data-aware fit: minimise E_h ||W h - A B h||^2 over the calibration hidden states hs [n, dim].
 * With C = E h h^T = L L^T (Cholesky, plus a tiny relative ridge) the objective is
 * ||(W - A B) L||_F^2, so the best rank-r A B L is the truncated SVD U_r S_r Vt_r of W L
 * (Eckart-Young), giving A = U_r S_r and B = Vt_r L^{-1}. (The method is often written W C^{1/2}; any factor
 * with L L^T = C gives the same A B.)
 */
export function fitLowRankDataAware(
  w: Float32Array,
  vocabSize: number,
  dim: number,
  rank: number,
  hs: Float32Array | Float64Array,
  n: number,
  seed: number,
  opts: FitOptions = {},
): LowRank {
  checkFit(w, vocabSize, dim, rank);
  const l = cholesky(secondMoment(hs, n, dim), dim, opts.ridge ?? 1e-6);
  const svd = randomizedSvd(rightLowerOperator(opts.operator ?? denseOperator(w, vocabSize, dim), l), rank, {...opts, seed});
  const b = solveLowerRight(svd.Vt, rank, l, dim);
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i])) throw new NumericalError('data-aware fit: B is not finite; raise the ridge');
  }
  return {rank, A: scaledU(svd, vocabSize, rank), B: Float32Array.from(b)};
}

function shapeOf(lr: {rank: number; B: Float32Array}): number {
  return lr.B.length / lr.rank;
}

/** B h [rank] in float64. */
export function projectHidden(b: Float32Array, rank: number, h: ArrayLike<number>): Float64Array {
  const dim = b.length / rank;
  const out = new Float64Array(rank);
  for (let t = 0; t < rank; t++) {
    let s = 0;
    const o = t * dim;
    for (let j = 0; j < dim; j++) s += b[o + j] * h[j];
    out[t] = s;
  }
  return out;
}

/** Approximate logits A (B h) [vocabSize]. */
export function lowRankLogits(lr: LowRank, h: ArrayLike<number>): Float32Array {
  const {rank, A} = lr;
  const bh = projectHidden(lr.B, rank, h);
  const vocabSize = A.length / rank;
  const z = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    let s = 0;
    const o = i * rank;
    for (let t = 0; t < rank; t++) s += A[o + t] * bh[t];
    z[i] = s;
  }
  return z;
}

/** Quantise A of a low-rank fit (int8 or int4; groupSize defaults to rank: one scale per row). */
export function quantizeLowRank(lr: LowRank, bits: 8 | 4, groupSize: number = lr.rank): LowRankQuant {
  const vocabSize = lr.A.length / lr.rank;
  return {rank: lr.rank, A: quantize(lr.A, vocabSize, lr.rank, bits, groupSize), B: lr.B};
}

/** Approximate logits dequant(A) (B h) [vocabSize]. */
export function lowRankQuantLogits(lrq: LowRankQuant, h: ArrayLike<number>): Float32Array {
  return quantMatvec(lrq.A, projectHidden(lrq.B, lrq.rank, h));
}

/**
 * e_i = ||W_i - W~_i||_2 for every row, with W~_i written by `approxRow(i, out)` (out [dim], float64).
 * Stored rounded UP to float32 so the certified bound z_i <= z~_i + e_i ||h|| survives the storage.
 */
export function rowErrorNorms(
  w: Float32Array,
  vocabSize: number,
  dim: number,
  approxRow: (i: number, out: Float64Array) => void,
): Float32Array {
  const out = new Float32Array(vocabSize);
  const row = new Float64Array(dim);
  for (let i = 0; i < vocabSize; i++) {
    approxRow(i, row);
    let ss = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) {
      const e = w[o + j] - row[j];
      ss += e * e;
    }
    out[i] = roundUpF32(Math.sqrt(ss));
  }
  return out;
}

/** Row i of A B (float64) for A [*, rank] given as a float64 row. */
function rowTimesB(aRow: ArrayLike<number>, b: Float32Array, rank: number, out: Float64Array): void {
  const dim = out.length;
  out.fill(0);
  for (let t = 0; t < rank; t++) {
    const a = aRow[t];
    if (a === 0) continue;
    const o = t * dim;
    for (let j = 0; j < dim; j++) out[j] += a * b[o + j];
  }
}

/** e_i for a low-rank predictor: ||W_i - A_i B||. */
export function lowRankRowErrors(w: Float32Array, lr: LowRank): Float32Array {
  const dim = shapeOf(lr);
  const vocabSize = lr.A.length / lr.rank;
  return rowErrorNorms(w, vocabSize, dim, (i, out) =>
    rowTimesB(lr.A.subarray(i * lr.rank, (i + 1) * lr.rank), lr.B, lr.rank, out),
  );
}

/** e_i for a quantised W: ||W_i - dequant(Q)_i||. */
export function quantRowErrors(w: Float32Array, q: QuantMatrix): Float32Array {
  return rowErrorNorms(w, q.rows, q.cols, (i, out) => dequantizeRow(q, i, out));
}

/** e_i for low-rank with quantised A: ||W_i - dequant(A)_i B||. */
export function lowRankQuantRowErrors(w: Float32Array, lrq: LowRankQuant): Float32Array {
  const dim = shapeOf(lrq);
  const aRow = new Float64Array(lrq.rank);
  return rowErrorNorms(w, lrq.A.rows, dim, (i, out) => {
    dequantizeRow(lrq.A, i, aRow);
    rowTimesB(aRow, lrq.B, lrq.rank, out);
  });
}

/**
 * The calibration objective (1/n) sum_t ||W h_t - A B h_t||^2 evaluated directly on hs [n, dim]
 * (O(n vocabSize dim): for tests and small reports; the fit itself never forms W h).
 */
export function lowRankObjective(
  w: Float32Array,
  vocabSize: number,
  dim: number,
  lr: LowRank,
  hs: Float32Array | Float64Array,
  n: number,
): number {
  let total = 0;
  for (let t = 0; t < n; t++) {
    const h = hs.subarray(t * dim, (t + 1) * dim);
    const bh = projectHidden(lr.B, lr.rank, h);
    for (let i = 0; i < vocabSize; i++) {
      let exact = 0;
      const o = i * dim;
      for (let j = 0; j < dim; j++) exact += w[o + j] * h[j];
      let approx = 0;
      const a = i * lr.rank;
      for (let r = 0; r < lr.rank; r++) approx += lr.A[a + r] * bh[r];
      total += (exact - approx) ** 2;
    }
  }
  return total / n;
}
