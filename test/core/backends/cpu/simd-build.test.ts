/**
 * The two builds of the cpu kernels: plain SIMD and relaxed SIMD (fused multiply-adds in the
 * prompt-block tile, behind a V8 flag in Node 20). The relaxed build is detected, used only when it
 * validates, gives the float64 reference's products, and is named by the backend; a bad
 * HIRE_CPU_SIMD is one clear error.
 */
import {afterEach, describe, expect, it} from 'vitest';
import {gemm, measureCompute} from '../../../../src/core/backends/cpu/prompt-kernels.js';
import {createCpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels, type DenseDtype} from '../../../../src/core/backends/cpu/kernels.js';
import {DEFAULT_SIMD, relaxedSimdAvailable} from '../../../../src/core/backends/cpu/simd-build.js';
import {expectClose, put, randomBf16, randomF32, refRow, rng, weightValues} from './helpers.js';
import {randomBlockMatrix} from '../../../helpers/block-parity.js';

describe('cpu kernel builds', () => {
  const saved = process.env.HIRE_CPU_SIMD;
  afterEach(() => {
    if (saved === undefined) delete process.env.HIRE_CPU_SIMD;
    else process.env.HIRE_CPU_SIMD = saved;
  });

  it('relaxed SIMD is detected in Node 20 (its V8 flag switched on) and its products match float64', async () => {
    expect(relaxedSimdAvailable()).toBe(true);
    const k = await CpuKernels.create({threads: 2, minParallelBytes: 0, simd: 'relaxed'});
    try {
      expect(k.simd).toBe('relaxed');
      const rand = rng(7);
      for (const dtype of ['f32', 'bf16'] as DenseDtype[]) {
        const [rows, cols, nb] = [67, 36, 7];
        const w = dtype === 'f32' ? randomF32(rows * cols, rand) : randomBf16(rows * cols, rand);
        const xs = randomF32(nb * cols, rand);
        const [wp, xp] = [put(k, w), put(k, xs)];
        const yp = k.alloc(nb * rows * 4);
        gemm(k, dtype, wp, rows, cols, xp, yp, nb);
        const ys = k.f32(yp, nb * rows);
        const wv = weightValues(dtype, w);
        for (let b = 0; b < nb; b++) {
          for (let r = 0; r < rows; r++) expectClose(ys[b * rows + r]!, refRow(wv, cols, r, xs.subarray(b * cols, (b + 1) * cols)), `${dtype} token ${b} row ${r}`);
        }
      }
      expect(measureCompute(k, {repeats: 1, seconds: 0.01}).flopsPerSecond).toBeGreaterThan(0);
    } finally {
      k.dispose();
    }
  });

  it('the backend names the build it runs; HIRE_CPU_SIMD picks it and a bad value is one clear error', async () => {
    for (const [env, name] of [
      ['relaxed', 'wasm relaxed simd'],
      ['simd', 'wasm simd'],
    ] as const) {
      process.env.HIRE_CPU_SIMD = env;
      const b = await createCpuBackend({threads: 1});
      try {
        expect(b.describe()).toBe(`cpu (${name}, 1 thread)`);
      } finally {
        b.dispose();
      }
    }
    delete process.env.HIRE_CPU_SIMD;
    const k = await CpuKernels.create({threads: 1});
    expect(k.simd).toBe(DEFAULT_SIMD);
    k.dispose();
    process.env.HIRE_CPU_SIMD = 'avx';
    await expect(CpuKernels.create({threads: 1})).rejects.toThrow(/^HIRE_CPU_SIMD must be simd or relaxed, got "avx"$/);
  });
});

describe('cpu backend description', () => {
  it('names the block activations only once block weights are held', async () => {
    const b = await createCpuBackend({threads: 1, blockActivations: 'int16'});
    try {
      b.uploadMatrix({dtype: 'f32', rows: 2, cols: 4, data: new Float32Array(8)});
      expect(b.describe()).not.toMatch(/activations/);
      b.uploadMatrix(randomBlockMatrix('q8_0', 2, 32, rng(3)));
      expect(b.describe()).toMatch(/, 1 thread; int16 activations on block weights\)$/);
    } finally {
      b.dispose();
    }
  });

  it('takes int8 activations with the relaxed build, int16 without it (the plain 8-bit dot is slower than int16)', async () => {
    const saved = process.env.HIRE_CPU_SIMD;
    for (const simd of ['relaxed', 'simd'] as const) {
      process.env.HIRE_CPU_SIMD = simd;
      const b = await createCpuBackend({threads: 1, blockActivations: 'int8'});
      try {
        b.uploadMatrix(randomBlockMatrix('q4_0', 2, 32, rng(3)));
        const want = b.kernels.simd === 'relaxed' ? 'int8' : 'int16';
        expect([simd, b.describe()]).toEqual([simd, expect.stringMatching(new RegExp(`; ${want} activations on block weights\\)$`))]);
      } finally {
        b.dispose();
        if (saved === undefined) delete process.env.HIRE_CPU_SIMD;
        else process.env.HIRE_CPU_SIMD = saved;
      }
    }
  });
});
