/**
 * Truncated SVD of a large matrix seen only through products (Halko, Martinsson & Tropp 2011,
 * "Finding structure with randomness", algorithms 4.4 + 5.1):
 *
 *   Y = A Omega                         Omega [cols, l] Gaussian, l = rank + oversample
 *   Q = orth(Y)                         repeat powerIters times: Q = orth(A orth(A^T Q))
 *   B^T = A^T Q                         [cols, l]; A ~ Q Q^T A = Q B
 *   B^T = Q2 R2 (QR), R2 = Ur S Vr^T     exact small SVD (one-sided Jacobi on R2, [l, l])
 *   A ~ (Q Vr) S (Q2 Ur)^T               keep the first `rank` triplets
 *
 * The big products go through a `LinearOperator`, so a backend can supply them; `denseOperator`
 * is the plain-TypeScript one over a float32 [rows, cols] matrix. Cost: (2 powerIters + 2)
 * operator products of rows*cols*l multiply-adds each, plus O(rows l^2) for the orthonormalisations.
 */
import {createRng} from './rng.js';
import {gaussianMatrix, jacobiSvd, lowerTimes, lowerTransposeTimes, orthonormalizeColumns} from './linalg.js';

/** A [rows, cols] matrix known through its products with thin row-major blocks. */
export interface LinearOperator {
  rows: number;
  cols: number;
  /** A X for X [cols, k] -> [rows, k]. */
  mul(x: Float64Array, k: number): Float64Array;
  /** A^T Y for Y [rows, k] -> [cols, k]. */
  mulT(y: Float64Array, k: number): Float64Array;
}

export interface RandomizedSvdOptions {
  /** Extra sketch columns beyond the rank (default 10). */
  oversample?: number;
  /** Subspace (power) iterations; 2 is plenty for weight matrices (default 2). */
  powerIters?: number;
  /** Seed of the Gaussian test matrix and of replacement directions. */
  seed: number;
}

export interface TruncatedSvd {
  /** [rows, rank], orthonormal columns. */
  U: Float64Array;
  /** [rank], descending. */
  S: Float64Array;
  /** [rank, cols], orthonormal rows. */
  Vt: Float64Array;
}

/** Rows per tile of the dense products: a tile of the output stays in cache while columns stream. */
const ROW_TILE = 64;
const COL_TILE = 128;

/** Products with a float32 W [rows, cols] in plain TypeScript (tiled loops, float64 accumulation). */
export function denseOperator(w: Float32Array, rows: number, cols: number): LinearOperator {
  if (w.length < rows * cols) throw new RangeError(`denseOperator: W has ${w.length} values, need ${rows * cols}`);
  return {
    rows,
    cols,
    mul(x, k) {
      const out = new Float64Array(rows * k);
      for (let i0 = 0; i0 < rows; i0 += ROW_TILE) {
        const i1 = Math.min(rows, i0 + ROW_TILE);
        for (let j0 = 0; j0 < cols; j0 += COL_TILE) {
          const j1 = Math.min(cols, j0 + COL_TILE);
          for (let i = i0; i < i1; i++) {
            const wi = i * cols;
            const o = i * k;
            let j = j0;
            for (; j + 4 <= j1; j += 4) {
              const w0 = w[wi + j], w1 = w[wi + j + 1], w2 = w[wi + j + 2], w3 = w[wi + j + 3];
              const x0 = j * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
              for (let t = 0; t < k; t++) out[o + t] += w0 * x[x0 + t] + w1 * x[x1 + t] + w2 * x[x2 + t] + w3 * x[x3 + t];
            }
            for (; j < j1; j++) {
              const wj = w[wi + j];
              const xj = j * k;
              for (let t = 0; t < k; t++) out[o + t] += wj * x[xj + t];
            }
          }
        }
      }
      return out;
    },
    mulT(y, k) {
      const out = new Float64Array(cols * k);
      for (let j0 = 0; j0 < cols; j0 += COL_TILE) {
        const j1 = Math.min(cols, j0 + COL_TILE);
        let i = 0;
        for (; i + 4 <= rows; i += 4) {
          const w0 = i * cols, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
          const y0 = i * k, y1 = y0 + k, y2 = y1 + k, y3 = y2 + k;
          for (let j = j0; j < j1; j++) {
            const a0 = w[w0 + j], a1 = w[w1 + j], a2 = w[w2 + j], a3 = w[w3 + j];
            const o = j * k;
            for (let t = 0; t < k; t++) out[o + t] += a0 * y[y0 + t] + a1 * y[y1 + t] + a2 * y[y2 + t] + a3 * y[y3 + t];
          }
        }
        for (; i < rows; i++) {
          const wi = i * cols;
          const yi = i * k;
          for (let j = j0; j < j1; j++) {
            const a = w[wi + j];
            const o = j * k;
            for (let t = 0; t < k; t++) out[o + t] += a * y[yi + t];
          }
        }
      }
      return out;
    },
  };
}

/**
 * The operator of A L for lower-triangular L [cols, cols] (A L X = A (L X), (A L)^T Y = L^T (A^T Y)).
 * With C = L L^T the hidden-state second moment, the truncated SVD of this operator is the
 * data-aware low-rank fit.
 */
export function rightLowerOperator(a: LinearOperator, l: Float64Array): LinearOperator {
  const d = a.cols;
  return {
    rows: a.rows,
    cols: d,
    mul: (x, k) => a.mul(lowerTimes(l, x, d, k), k),
    mulT: (y, k) => lowerTransposeTimes(l, a.mulT(y, k), d, k),
  };
}

/** Rank-`rank` truncated SVD of `op` by randomized subspace iteration (see the file comment). */
export function randomizedSvd(op: LinearOperator, rank: number, opts: RandomizedSvdOptions): TruncatedSvd {
  const {rows, cols} = op;
  const maxRank = Math.min(rows, cols);
  if (!Number.isInteger(rank) || rank < 1 || rank > maxRank) {
    throw new RangeError(`randomizedSvd: rank must be an integer in [1, ${maxRank}], got ${rank}`);
  }
  const oversample = opts.oversample ?? 10;
  const powerIters = opts.powerIters ?? 2;
  const l = Math.min(rank + Math.max(0, oversample), maxRank);
  const rng = createRng(opts.seed);
  const seeded = Math.floor(rng() * 2 ** 31);

  let q = op.mul(gaussianMatrix(cols * l, seeded), l); // [rows, l]
  orthonormalizeColumns(q, rows, l, rng);
  for (let it = 0; it < powerIters; it++) {
    const z = op.mulT(q, l); // [cols, l]
    orthonormalizeColumns(z, cols, l, rng);
    q = op.mul(z, l);
    orthonormalizeColumns(q, rows, l, rng);
  }
  const q2 = op.mulT(q, l); // B^T [cols, l]; becomes Q2 in place
  const r2 = orthonormalizeColumns(q2, cols, l, rng); // [l, l]
  const small = jacobiSvd(r2, l, l); // R2 = Ur S Vr^T; Ur = small.u, Vr = small.v

  // U = Q Vr[:, :rank]: [rows, l] x [l, rank].
  const u = new Float64Array(rows * rank);
  for (let i = 0; i < rows; i++) {
    const qi = i * l;
    const o = i * rank;
    for (let p = 0; p < l; p++) {
      const qv = q[qi + p];
      if (qv === 0) continue;
      const vp = p * l;
      for (let t = 0; t < rank; t++) u[o + t] += qv * small.v[vp + t];
    }
  }
  // Vt[t, :] = (Q2 Ur[:, t])^T: column t of the [cols, l] x [l, rank] product.
  const vt = new Float64Array(rank * cols);
  for (let j = 0; j < cols; j++) {
    const qj = j * l;
    for (let p = 0; p < l; p++) {
      const qv = q2[qj + p];
      if (qv === 0) continue;
      const up = p * l;
      for (let t = 0; t < rank; t++) vt[t * cols + j] += qv * small.u[up + t];
    }
  }
  return {U: u, S: small.s.slice(0, rank), Vt: vt};
}
