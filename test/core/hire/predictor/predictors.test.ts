import {describe, expect, it} from 'vitest';
import {createRng} from '../../../../src/core/numeric/rng.js';
import {gaussianMatrix, orthonormalizeColumns} from '../../../../src/core/numeric/linalg.js';
import {
  fitLowRankDataAware,
  fitLowRankSvd,
  lowRankLogits,
  lowRankObjective,
  lowRankQuantLogits,
  lowRankQuantRowErrors,
  lowRankRowErrors,
  quantizeLowRank,
  quantRowErrors,
  rowErrorNorms,
  type LowRank,
} from '../../../../src/core/hire/predictor/fit-lowrank.js';
import {dequantize, quantize, quantMatvec} from '../../../../src/core/numeric/quant.js';

/** W [rows, cols] = X Y with X [rows, r], Y [r, cols] Gaussian: exactly rank r (up to float32). */
function rankR(rows: number, cols: number, r: number, seed: number): Float32Array {
  const x = gaussianMatrix(rows * r, seed);
  const y = gaussianMatrix(r * cols, seed + 1);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < r; t++) s += x[i * r + t] * y[t * cols + j];
      w[i * cols + j] = s;
    }
  }
  return w;
}

function product(lr: LowRank, dim: number): Float64Array {
  const rows = lr.A.length / lr.rank;
  const out = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) for (let t = 0; t < lr.rank; t++) for (let j = 0; j < dim; j++) out[i * dim + j] += lr.A[i * lr.rank + t] * lr.B[t * dim + j];
  return out;
}

function relFrobenius(w: Float32Array, approx: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < w.length; i++) {
    num += (w[i] - approx[i]) ** 2;
    den += w[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * Anisotropic hidden states hs [n, dim]: h = Q diag(scale) g with a random rotation Q and scales
 * spanning four orders of magnitude, so a few directions carry almost all of E h h^T.
 */
function anisotropicHidden(n: number, dim: number, seed: number): Float32Array {
  const q = gaussianMatrix(dim * dim, seed);
  orthonormalizeColumns(q, dim, dim, createRng(seed));
  const scale = Array.from({length: dim}, (_, j) => 10 ** (-4 * (j / (dim - 1))) * 10);
  const g = gaussianMatrix(n * dim, seed + 1);
  const hs = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < dim; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += q[i * dim + j] * scale[j] * g[t * dim + j];
      hs[t * dim + i] = s;
    }
  }
  return hs;
}

describe('low-rank fits', () => {
  it('both fits recover an exactly rank-r matrix at rank r', () => {
    const vocab = 300, dim = 40, r = 6;
    const w = rankR(vocab, dim, r, 1);
    const svd = fitLowRankSvd(w, vocab, dim, r, 7);
    expect(svd.A.length).toBe(vocab * r);
    expect(svd.B.length).toBe(r * dim);
    expect(relFrobenius(w, product(svd, dim))).toBeLessThan(1e-6);
    const n = 200;
    const hs = Float32Array.from(gaussianMatrix(n * dim, 3), (v, i) => v * (1 + (i % dim) / 4));
    const da = fitLowRankDataAware(w, vocab, dim, r, hs, n, 7);
    expect(relFrobenius(w, product(da, dim))).toBeLessThan(1e-6);
  });

  it('lower rank than the matrix is not exact (the test can fail)', () => {
    const vocab = 300, dim = 40;
    const w = rankR(vocab, dim, 6, 2);
    expect(relFrobenius(w, product(fitLowRankSvd(w, vocab, dim, 5, 7), dim))).toBeGreaterThan(1e-2);
  });

  it('the data-aware fit beats plain SVD on E||Wh - ABh||^2 with anisotropic hidden states', () => {
    const vocab = 400, dim = 32, rank = 6, n = 600;
    const w = Float32Array.from(gaussianMatrix(vocab * dim, 4));
    const hs = anisotropicHidden(n, dim, 5);
    const plain = lowRankObjective(w, vocab, dim, fitLowRankSvd(w, vocab, dim, rank, 9), hs, n);
    const aware = lowRankObjective(w, vocab, dim, fitLowRankDataAware(w, vocab, dim, rank, hs, n, 9), hs, n);
    expect(aware).toBeLessThan(0.5 * plain);
  });

  it('lowRankLogits computes A (B h)', () => {
    const vocab = 50, dim = 12, rank = 4;
    const w = Float32Array.from(gaussianMatrix(vocab * dim, 6));
    const lr = fitLowRankSvd(w, vocab, dim, rank, 1);
    const h = Float32Array.from(gaussianMatrix(dim, 8));
    const z = lowRankLogits(lr, h);
    const ab = product(lr, dim);
    for (let i = 0; i < vocab; i++) {
      let ref = 0;
      for (let j = 0; j < dim; j++) ref += ab[i * dim + j] * h[j];
      expect(z[i]).toBeCloseTo(ref, 4);
    }
  });

  it('rejects ranks outside [1, min(vocab, dim)]', () => {
    const w = new Float32Array(20 * 5);
    expect(() => fitLowRankSvd(w, 20, 5, 6, 1)).toThrow(/rank/);
    expect(() => fitLowRankSvd(w, 20, 5, 0, 1)).toThrow(/rank/);
  });
});

describe('row error norms and the certified bound', () => {
  const vocab = 120, dim = 24, rank = 5;
  const w = Float32Array.from(gaussianMatrix(vocab * dim, 10));
  const lr = fitLowRankSvd(w, vocab, dim, rank, 2);

  it('lowRankRowErrors equals ||W_i - (AB)_i|| and bounds |z_i - z~_i| by e_i ||h||', () => {
    const e = lowRankRowErrors(w, lr);
    const ab = product(lr, dim);
    const h = Float32Array.from(gaussianMatrix(dim, 11));
    const hNorm = Math.hypot(...h);
    const approx = lowRankLogits(lr, h);
    for (let i = 0; i < vocab; i++) {
      let ss = 0, z = 0;
      for (let j = 0; j < dim; j++) {
        ss += (w[i * dim + j] - ab[i * dim + j]) ** 2;
        z += w[i * dim + j] * h[j];
      }
      expect(e[i]).toBeGreaterThanOrEqual(Math.sqrt(ss) * (1 - 1e-6));
      expect(e[i]).toBeLessThanOrEqual(Math.sqrt(ss) * (1 + 1e-6));
      expect(Math.abs(z - approx[i])).toBeLessThanOrEqual(e[i] * hNorm * (1 + 1e-5));
    }
  });

  it('quantRowErrors and the generic rowErrorNorms agree with a dequantised copy', () => {
    const q = quantize(w, vocab, dim, 4, 8);
    const dq = dequantize(q);
    const e = quantRowErrors(w, q);
    const generic = rowErrorNorms(w, vocab, dim, (i, out) => out.set(dq.subarray(i * dim, (i + 1) * dim)));
    for (let i = 0; i < vocab; i++) expect(e[i]).toBeCloseTo(generic[i], 5);
    expect(e.some((v) => v > 0)).toBe(true);
  });

  it('low-rank + quant: logits are dequant(A) (B h) and its errors include the quantisation of A', () => {
    const lrq = quantizeLowRank(lr, 8);
    expect(lrq.A.groupSize).toBe(rank);
    const h = Float32Array.from(gaussianMatrix(dim, 12));
    const z = lowRankQuantLogits(lrq, h);
    const bh = new Float64Array(rank);
    for (let t = 0; t < rank; t++) for (let j = 0; j < dim; j++) bh[t] += lr.B[t * dim + j] * h[j];
    const ref = quantMatvec(lrq.A, bh);
    for (let i = 0; i < vocab; i++) expect(z[i]).toBeCloseTo(ref[i], 5);
    const eLr = lowRankRowErrors(w, lr);
    const eQ = lowRankQuantRowErrors(w, lrq);
    let differs = 0;
    for (let i = 0; i < vocab; i++) if (Math.abs(eQ[i] - eLr[i]) > 1e-7) differs++;
    expect(differs).toBeGreaterThan(0);
    // int4 A is coarser than int8 A: larger total error.
    const e4 = lowRankQuantRowErrors(w, quantizeLowRank(lr, 4));
    const total = (e: Float32Array) => e.reduce((s, v) => s + v * v, 0);
    expect(total(e4)).toBeGreaterThan(total(eQ));
  });
});
