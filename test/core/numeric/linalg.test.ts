import {describe, expect, it} from 'vitest';
import {createRng} from '../../../src/core/numeric/rng.js';
import {
  cholesky,
  gaussianMatrix,
  jacobiSvd,
  lowerTimes,
  lowerTransposeTimes,
  NumericalError,
  orthonormalizeColumns,
  roundUpF32,
  secondMoment,
  solveLowerRight,
  symmetricEigen,
} from '../../../src/core/numeric/linalg.js';
import {denseOperator, randomizedSvd} from '../../../src/core/numeric/randomized-svd.js';

/** C = A B for row-major A [m, k], B [k, n]. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * k + p] * b[p * n + j];
  return c;
}

function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j];
  return t;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Orthonormal [rows, k] from a Gaussian. */
function orthonormal(rows: number, k: number, seed: number): Float64Array {
  const q = gaussianMatrix(rows * k, seed);
  orthonormalizeColumns(q, rows, k, createRng(seed + 1));
  return q;
}

describe('secondMoment and cholesky', () => {
  it('secondMoment is (1/n) sum h h^T for n not a multiple of 4', () => {
    const n = 7, d = 5;
    const hs = Float32Array.from(gaussianMatrix(n * d, 1));
    const c = secondMoment(hs, n, d);
    const expected = matmul(transpose(hs, n, d), hs, d, n, d).map((v) => v / n);
    expect(maxAbsDiff(c, expected)).toBeLessThan(1e-12);
  });

  it('cholesky reconstructs C (+ ridge) and is lower triangular', () => {
    const n = 50, d = 12;
    const c = secondMoment(gaussianMatrix(n * d, 2), n, d);
    const l = cholesky(c, d, 0);
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) expect(l[i * d + j]).toBe(0);
    expect(maxAbsDiff(matmul(l, transpose(l, d, d), d, d, d), c)).toBeLessThan(1e-12);
    // With a ridge: L L^T = C + ridge * trace/d * I.
    const ridge = 0.1;
    let trace = 0;
    for (let i = 0; i < d; i++) trace += c[i * d + i];
    const shifted = Float64Array.from(c);
    for (let i = 0; i < d; i++) shifted[i * d + i] += (ridge * trace) / d;
    const lr = cholesky(c, d, ridge);
    expect(maxAbsDiff(matmul(lr, transpose(lr, d, d), d, d, d), shifted)).toBeLessThan(1e-12);
  });

  it('cholesky throws NumericalError on an indefinite matrix, and the ridge rescues a singular one', () => {
    const indefinite = Float64Array.of(1, 2, 2, 1);
    expect(() => cholesky(indefinite, 2)).toThrow(NumericalError);
    expect(() => cholesky(indefinite, 2)).toThrow(/not positive definite/);
    const singular = Float64Array.of(1, 1, 1, 1);
    expect(() => cholesky(singular, 2, 0)).toThrow(NumericalError);
    expect(() => cholesky(singular, 2, 1e-6)).not.toThrow();
  });

  it('triangular products and the right solve agree with dense products', () => {
    const d = 9, k = 4, m = 3;
    const l = cholesky(secondMoment(gaussianMatrix(40 * d, 3), 40, d), d);
    const x = gaussianMatrix(d * k, 4);
    expect(maxAbsDiff(lowerTimes(l, x, d, k), matmul(l, x, d, d, k))).toBeLessThan(1e-12);
    expect(maxAbsDiff(lowerTransposeTimes(l, x, d, k), matmul(transpose(l, d, d), x, d, d, k))).toBeLessThan(1e-12);
    const rhs = gaussianMatrix(m * d, 5);
    const y = solveLowerRight(rhs, m, l, d);
    expect(maxAbsDiff(matmul(y, l, m, d, d), rhs)).toBeLessThan(1e-10);
  });
});

describe('orthonormalizeColumns', () => {
  it('gives Q^T Q = I and Y = Q R, even with dependent and zero columns', () => {
    const rows = 30, k = 6;
    const y = gaussianMatrix(rows * k, 6);
    for (let i = 0; i < rows; i++) {
      y[i * k + 2] = 2 * y[i * k + 0] - y[i * k + 1]; // dependent
      y[i * k + 4] = 0; // zero
    }
    const original = Float64Array.from(y);
    const r = orthonormalizeColumns(y, rows, k, createRng(7));
    const qtq = matmul(transpose(y, rows, k), y, k, rows, k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(qtq[i * k + j] - (i === j ? 1 : 0))).toBeLessThan(1e-12);
    expect(maxAbsDiff(matmul(y, r, rows, k, k), original)).toBeLessThan(1e-12);
    expect(r[2 * k + 2]).toBe(0);
    expect(r[4 * k + 4]).toBe(0);
  });
});

describe('orthonormalizeColumns (ill-conditioned)', () => {
  it('keeps Q orthonormal when the columns span singular values down to 1e-12 (needs re-orthogonalisation)', () => {
    const rows = 200, k = 12;
    const u = orthonormal(rows, k, 21);
    const v = orthonormal(k, k, 22);
    const s = Array.from({length: k}, (_, j) => 10 ** -j);
    const y = matmul(Float64Array.from(u, (x, i) => x * s[i % k]), transpose(v, k, k), rows, k, k);
    orthonormalizeColumns(y, rows, k, createRng(23));
    const qtq = matmul(transpose(y, rows, k), y, k, rows, k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expect(Math.abs(qtq[i * k + j] - (i === j ? 1 : 0))).toBeLessThan(1e-12);
  });
});

describe('symmetricEigen and jacobiSvd', () => {
  it('A V = V diag(values), values descending, V orthonormal', () => {
    const n = 20;
    const g = gaussianMatrix(n * n, 8);
    const a = matmul(g, transpose(g, n, n), n, n, n);
    for (let i = 0; i < n; i++) a[i * n + i] -= 15; // make it indefinite
    const {values, vectors} = symmetricEigen(a, n);
    for (let j = 1; j < n; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
    const av = matmul(a, vectors, n, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(av[i * n + j] - vectors[i * n + j] * values[j])).toBeLessThan(1e-9);
    const vtv = matmul(transpose(vectors, n, n), vectors, n, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(vtv[i * n + j] - (i === j ? 1 : 0))).toBeLessThan(1e-12);
  });

  it('jacobiSvd reconstructs M and resolves tiny singular values', () => {
    const m = 8, n = 6;
    const u = orthonormal(m, n, 9);
    const v = orthonormal(n, n, 10);
    const s = [10, 3, 1, 1e-3, 1e-6, 1e-9];
    const us = Float64Array.from(u, (x, i) => x * s[i % n]);
    const mat = matmul(us, transpose(v, n, n), m, n, n);
    const svd = jacobiSvd(mat, m, n);
    for (let j = 0; j < n; j++) expect(Math.abs(svd.s[j] - s[j]) / s[j]).toBeLessThan(1e-6);
    const rebuilt = matmul(Float64Array.from(svd.u, (x, i) => x * svd.s[i % n]), transpose(svd.v, n, n), m, n, n);
    expect(maxAbsDiff(rebuilt, mat)).toBeLessThan(1e-13);
  });
});

describe('randomizedSvd', () => {
  it('matches symmetricEigen of W^T W when the sketch covers the whole space', () => {
    const rows = 60, cols = 20;
    const w = Float32Array.from(gaussianMatrix(rows * cols, 11));
    const svd = randomizedSvd(denseOperator(w, rows, cols), cols, {seed: 12});
    const wtw = matmul(transpose(w, rows, cols), w, cols, rows, cols);
    const eig = symmetricEigen(wtw, cols);
    for (let j = 0; j < cols; j++) expect(svd.S[j]).toBeCloseTo(Math.sqrt(eig.values[j]), 9);
    // U S Vt rebuilds W.
    const us = Float64Array.from(svd.U, (x, i) => x * svd.S[i % cols]);
    expect(maxAbsDiff(matmul(us, svd.Vt, rows, cols, cols), w)).toBeLessThan(1e-9);
  });

  it('finds the leading singular triplets of a decaying spectrum with rank < cols', () => {
    const rows = 300, cols = 80, k = 80, rank = 10;
    const s = Array.from({length: k}, (_, j) => 100 * 0.5 ** j);
    const u = orthonormal(rows, k, 13);
    const v = orthonormal(cols, k, 14);
    const w = Float32Array.from(matmul(Float64Array.from(u, (x, i) => x * s[i % k]), transpose(v, cols, k), rows, k, cols));
    const svd = randomizedSvd(denseOperator(w, rows, cols), rank, {seed: 15});
    const eig = symmetricEigen(matmul(transpose(w, rows, cols), w, cols, rows, cols), cols);
    for (let j = 0; j < rank; j++) {
      expect(Math.abs(svd.S[j] - s[j]) / s[j]).toBeLessThan(1e-5); // float32 W limits the last digits
      expect(Math.abs(svd.S[j] - Math.sqrt(eig.values[j])) / s[j]).toBeLessThan(1e-5);
    }
    // U has orthonormal columns, Vt orthonormal rows.
    const utu = matmul(transpose(svd.U, rows, rank), svd.U, rank, rows, rank);
    const vvt = matmul(svd.Vt, transpose(svd.Vt, rank, cols), rank, cols, rank);
    for (let i = 0; i < rank; i++) {
      for (let j = 0; j < rank; j++) {
        expect(Math.abs(utu[i * rank + j] - (i === j ? 1 : 0))).toBeLessThan(1e-10);
        expect(Math.abs(vvt[i * rank + j] - (i === j ? 1 : 0))).toBeLessThan(1e-10);
      }
    }
  });

  it('is deterministic for a seed and rejects a bad rank', () => {
    const w = Float32Array.from(gaussianMatrix(40 * 10, 16));
    const op = denseOperator(w, 40, 10);
    expect(randomizedSvd(op, 3, {seed: 1}).S).toEqual(randomizedSvd(op, 3, {seed: 1}).S);
    expect(() => randomizedSvd(op, 11, {seed: 1})).toThrow(/rank/);
    expect(() => randomizedSvd(op, 0, {seed: 1})).toThrow(/rank/);
  });

  it('denseOperator mul and mulT match plain products (odd sizes cross the tiles)', () => {
    const rows = 131, cols = 133, k = 5;
    const w = Float32Array.from(gaussianMatrix(rows * cols, 17));
    const op = denseOperator(w, rows, cols);
    const x = gaussianMatrix(cols * k, 18);
    const y = gaussianMatrix(rows * k, 19);
    expect(maxAbsDiff(op.mul(x, k), matmul(w, x, rows, cols, k))).toBeLessThan(1e-10);
    expect(maxAbsDiff(op.mulT(y, k), matmul(transpose(w, rows, cols), y, cols, rows, k))).toBeLessThan(1e-10);
  });
});

describe('roundUpF32', () => {
  it('never rounds down', () => {
    const rng = createRng(20);
    for (let i = 0; i < 2000; i++) {
      const v = (rng() - 0.5) * 10 ** Math.floor(rng() * 10 - 5);
      const f = roundUpF32(v);
      expect(f).toBeGreaterThanOrEqual(v);
      expect(Math.fround(f)).toBe(f);
      expect(f - v).toBeLessThanOrEqual(Math.abs(v) * 2 ** -22 + 1e-45);
    }
    expect(roundUpF32(1e-50)).toBeGreaterThan(0);
    expect(roundUpF32(-1e-50)).toBe(-0);
    expect(roundUpF32(Infinity)).toBe(Infinity);
  });
});
