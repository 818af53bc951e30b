/**
 * Small dense linear algebra for fitting HiRE predictors: pure functions over row-major
 * Float64Arrays (Float32Array inputs where they come straight from the checkpoint).
 *
 * Everything here is O(d^3) or O(n d^2) on the hidden size d (<= 4096) or on the sketch width
 * l = rank + oversample (<= ~300); the O(V d l) products over the vocabulary live behind the
 * `LinearOperator` of randomized-svd.ts so a fast backend can take them over.
 *
 * Conventions: a matrix `[m, n]` is row-major, element (i, j) at i*n + j. Accumulation is float64.
 */
import type {Rng} from './rng.js';
import {createRng} from './rng.js';

/** A factorisation or solve that cannot proceed on the given numbers; the message says why. */
export class NumericalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NumericalError';
  }
}

/** Standard normal draws from a uniform Rng (Box-Muller, both outputs used). */
export function gaussianFill(out: Float64Array, rng: Rng): Float64Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rng(); // (0, 1]: log stays finite
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * rng();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** A seeded standard-normal matrix of the given length. */
export function gaussianMatrix(length: number, seed: number): Float64Array {
  return gaussianFill(new Float64Array(length), createRng(seed));
}

/** The smallest float32 >= v (Math.fround rounds to nearest, which may go down). */
export function roundUpF32(v: number): number {
  const f = Math.fround(v);
  if (!(f < v)) return f; // also NaN and +-Infinity
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, f);
  const bits = buf.getInt32(0);
  if (f === 0) buf.setInt32(0, 1); // smallest positive subnormal (f is +0 or -0 here)
  else buf.setInt32(0, f > 0 ? bits + 1 : bits - 1); // magnitude up for +, down for -
  return buf.getFloat32(0);
}

/**
 * Hidden-state second moment C = (1/n) sum_t h_t h_t^T.
 * hs: [n, d] (one calibration hidden state per row) -> C: [d, d] (symmetric, both halves filled).
 */
export function secondMoment(hs: Float32Array | Float64Array, n: number, d: number): Float64Array {
  if (hs.length < n * d) throw new RangeError(`secondMoment: hs has ${hs.length} values, need n*d = ${n * d}`);
  if (n < 1) throw new NumericalError('secondMoment: no calibration hidden states (n = 0); pass at least one');
  const c = new Float64Array(d * d);
  // Four samples at a time: one pass over the upper triangle of C per four rank-1 updates.
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    const o0 = t * d, o1 = o0 + d, o2 = o1 + d, o3 = o2 + d;
    for (let a = 0; a < d; a++) {
      const x0 = hs[o0 + a], x1 = hs[o1 + a], x2 = hs[o2 + a], x3 = hs[o3 + a];
      const row = a * d;
      for (let b = a; b < d; b++) {
        c[row + b] += x0 * hs[o0 + b] + x1 * hs[o1 + b] + x2 * hs[o2 + b] + x3 * hs[o3 + b];
      }
    }
  }
  for (; t < n; t++) {
    const o = t * d;
    for (let a = 0; a < d; a++) {
      const x = hs[o + a];
      const row = a * d;
      for (let b = a; b < d; b++) c[row + b] += x * hs[o + b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = c[a * d + b] / n;
      c[a * d + b] = v;
      c[b * d + a] = v;
    }
  }
  return c;
}

/**
 * Lower-triangular L with C + ridge * (trace(C)/d) * I = L L^T (Cholesky-Banachiewicz).
 * The relative ridge keeps rank-deficient calibration sets (n < d, dead dimensions) factorable.
 * Throws NumericalError when a pivot is not positive even after the ridge.
 */
export function cholesky(cIn: Float64Array, d: number, ridge = 1e-6): Float64Array {
  let trace = 0;
  for (let i = 0; i < d; i++) trace += cIn[i * d + i];
  const shift = ridge * (trace / d);
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let j = 0; j <= i; j++) {
      const rj = j * d;
      let s = cIn[ri + j] + (i === j ? shift : 0);
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) {
          throw new NumericalError(
            `cholesky: the matrix is not positive definite (pivot ${i} is ${s}) even with ridge ${ridge}; ` +
              'use more calibration tokens, check the hidden states for NaN/Inf, or raise the ridge',
          );
        }
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / l[rj + j];
      }
    }
  }
  return l;
}

/** L X for lower-triangular L [d, d] and X [d, k] -> [d, k]. */
export function lowerTimes(l: Float64Array, x: Float64Array, d: number, k: number): Float64Array {
  const out = new Float64Array(d * k);
  for (let i = 0; i < d; i++) {
    const o = i * k;
    for (let j = 0; j <= i; j++) {
      const lij = l[i * d + j];
      if (lij === 0) continue;
      const xj = j * k;
      for (let t = 0; t < k; t++) out[o + t] += lij * x[xj + t];
    }
  }
  return out;
}

/** L^T Y for lower-triangular L [d, d] and Y [d, k] -> [d, k]. */
export function lowerTransposeTimes(l: Float64Array, y: Float64Array, d: number, k: number): Float64Array {
  const out = new Float64Array(d * k);
  // (L^T Y)[j, :] = sum_{i >= j} L[i, j] Y[i, :]: scatter row i of Y into rows j <= i.
  for (let i = 0; i < d; i++) {
    const yi = i * k;
    for (let j = 0; j <= i; j++) {
      const lij = l[i * d + j];
      if (lij === 0) continue;
      const o = j * k;
      for (let t = 0; t < k; t++) out[o + t] += lij * y[yi + t];
    }
  }
  return out;
}

/**
 * X L^{-1} for X [m, d] and lower-triangular L [d, d] -> [m, d]. Each row y solves y L = x, i.e.
 * L^T y^T = x^T (back substitution, last column first). This is how B = Vt_r L^{-1} is formed.
 */
export function solveLowerRight(x: Float64Array, m: number, l: Float64Array, d: number): Float64Array {
  const lt = new Float64Array(d * d); // lt[j, i] = L[i, j]: row j of L^T holds column j of L, contiguous
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) lt[j * d + i] = l[i * d + j];
  const out = new Float64Array(m * d);
  for (let r = 0; r < m; r++) {
    const o = r * d;
    for (let j = d - 1; j >= 0; j--) {
      let s = x[o + j];
      const row = j * d;
      for (let i = j + 1; i < d; i++) s -= out[o + i] * lt[row + i];
      out[o + j] = s / lt[row + j];
    }
  }
  return out;
}

/**
 * In-place orthonormalisation of the k columns of Y [rows, k] (row-major) by classical
 * Gram-Schmidt with re-orthogonalisation ("twice is enough", with the Kahan-Parlett test: a
 * further pass only while a pass removes more than half the norm). Returns R [k, k] upper
 * triangular with Y_in = Q R. A column that is numerically in the span of the previous ones gets
 * R[j, j] = 0 and is replaced by a random unit vector orthogonal to them, so Q always has
 * orthonormal columns (k <= rows required).
 */
export function orthonormalizeColumns(y: Float64Array, rows: number, k: number, rng: Rng): Float64Array {
  if (k > rows) throw new RangeError(`orthonormalizeColumns: ${k} columns cannot be orthonormal in ${rows} rows`);
  const r = new Float64Array(k * k);
  const coef = new Float64Array(k);
  const colNorm = (j: number) => {
    let s = 0;
    for (let i = 0; i < rows; i++) s += y[i * k + j] * y[i * k + j];
    return Math.sqrt(s);
  };
  // One projection pass of column j against columns 0..j-1; adds the coefficients to R[:, j] if asked.
  const project = (j: number, record: boolean) => {
    if (j === 0) return;
    coef.fill(0, 0, j);
    for (let i = 0; i < rows; i++) {
      const o = i * k;
      const v = y[o + j];
      if (v !== 0) for (let p = 0; p < j; p++) coef[p] += y[o + p] * v;
    }
    for (let i = 0; i < rows; i++) {
      const o = i * k;
      let s = 0;
      for (let p = 0; p < j; p++) s += y[o + p] * coef[p];
      y[o + j] -= s;
    }
    if (record) for (let p = 0; p < j; p++) r[p * k + j] += coef[p];
  };
  for (let j = 0; j < k; j++) {
    const original = colNorm(j);
    let norm = original;
    for (let pass = 0; pass < 3 && j > 0; pass++) {
      const before = norm;
      project(j, true);
      norm = colNorm(j);
      if (norm > 0.5 * before) break;
    }
    if (!(norm > 1e-13 * original) || !(original > 0) || !Number.isFinite(norm)) {
      // Rank-deficient column: R[j, j] = 0 and a fresh random direction keeps Q orthonormal.
      r[j * k + j] = 0;
      const g = gaussianFill(new Float64Array(rows), rng);
      for (let i = 0; i < rows; i++) y[i * k + j] = g[i];
      project(j, false);
      project(j, false);
      norm = colNorm(j);
    } else {
      r[j * k + j] = norm;
    }
    const inv = 1 / norm;
    for (let i = 0; i < rows; i++) y[i * k + j] *= inv;
  }
  return r;
}

export interface EigenResult {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** [n, n]; column j (elements i*n + j) is the unit eigenvector of values[j]. */
  vectors: Float64Array;
}

/** Eigen-decomposition of a symmetric A [n, n] by cyclic Jacobi rotations (fine for n <= ~300). */
export function symmetricEigen(aIn: Float64Array, n: number, maxSweeps = 60): EigenResult {
  const a = Float64Array.from(aIn.subarray(0, n * n));
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p++) {
      diag += a[p * n + p] * a[p * n + p];
      for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // Rotation angle that zeroes a[p][q]: t = tan(theta), the smaller root for stability.
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let i = 0; i < n; i++) {
          // columns p and q of A
          const aip = a[i * n + p];
          const aiq = a[i * n + q];
          a[i * n + p] = c * aip - s * aiq;
          a[i * n + q] = s * aip + c * aiq;
        }
        for (let i = 0; i < n; i++) {
          // rows p and q of A
          const api = a[p * n + i];
          const aqi = a[q * n + i];
          a[p * n + i] = c * api - s * aqi;
          a[q * n + i] = s * api + c * aqi;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let i = 0; i < n; i++) {
          const vip = v[i * n + p];
          const viq = v[i * n + q];
          v[i * n + p] = c * vip - s * viq;
          v[i * n + q] = s * vip + c * viq;
        }
      }
    }
  }
  const order = Array.from({length: n}, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x] || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src];
    for (let i = 0; i < n; i++) vectors[i * n + dst] = v[i * n + src];
  });
  return {values, vectors};
}

export interface SmallSvd {
  /** [m, n]; column j is the left singular vector of s[j] (zero when s[j] is 0). */
  u: Float64Array;
  /** Singular values, descending. */
  s: Float64Array;
  /** [n, n]; column j is the right singular vector of s[j]. */
  v: Float64Array;
}

/**
 * Thin SVD M = U diag(s) V^T of a small M [m, n] by one-sided (Hestenes) Jacobi: rotate column
 * pairs of M V until all columns are orthogonal; their norms are the singular values. Accurate
 * for small singular values too (no squaring of M), O(m n^2) per sweep.
 */
export function jacobiSvd(mIn: Float64Array, m: number, n: number, maxSweeps = 60): SmallSvd {
  // g row j = column j of M V (contiguous), w row j = column j of V.
  const g = new Float64Array(n * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) g[j * m + i] = mIn[i * n + j];
  const w = new Float64Array(n * n);
  for (let j = 0; j < n; j++) w[j * n + j] = 1;
  const rotate = (x: Float64Array, len: number, p: number, q: number, c: number, s: number) => {
    const op = p * len, oq = q * len;
    for (let i = 0; i < len; i++) {
      const xp = x[op + i];
      const xq = x[oq + i];
      x[op + i] = c * xp - s * xq;
      x[oq + i] = s * xp + c * xq;
    }
  };
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        const op = p * m, oq = q * m;
        for (let i = 0; i < m; i++) {
          const xp = g[op + i];
          const xq = g[oq + i];
          alpha += xp * xp;
          beta += xq * xq;
          gamma += xp * xq;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rotate(g, m, p, q, c, c * t);
        rotate(w, n, p, q, c, c * t);
      }
    }
    if (!rotated) break;
  }
  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let ss = 0;
    for (let i = 0; i < m; i++) ss += g[j * m + i] * g[j * m + i];
    norms[j] = Math.sqrt(ss);
  }
  const order = Array.from({length: n}, (_, j) => j).sort((x, y) => norms[y] - norms[x] || x - y);
  const u = new Float64Array(m * n);
  const s = new Float64Array(n);
  const v = new Float64Array(n * n);
  order.forEach((src, dst) => {
    const sv = norms[src];
    s[dst] = sv;
    const inv = sv > 0 ? 1 / sv : 0;
    for (let i = 0; i < m; i++) u[i * n + dst] = g[src * m + i] * inv;
    for (let i = 0; i < n; i++) v[i * n + dst] = w[src * n + i];
  });
  return {u, s, v};
}
