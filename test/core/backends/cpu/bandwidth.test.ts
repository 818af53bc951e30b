import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {BackendError} from '../../../../src/core/errors.js';
import {measureBandwidth} from '../../../../src/core/backends/cpu/bandwidth.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';

describe('measureBandwidth', () => {
  let k: CpuKernels;
  beforeAll(async () => {
    k = await CpuKernels.create({threads: 2});
  });
  afterAll(() => k.dispose());

  it('streams 512 MiB on every thread and hands the buffer back', () => {
    const before = k.bytes;
    const result = measureBandwidth(k, {repeats: 1});
    expect(result.threads).toBe(2);
    expect(result.bytesPerSecond).toBeGreaterThan(0);
    expect(Number.isFinite(result.bytesPerSecond)).toBe(true);
    expect(k.bytes).toBe(before);
  });

  it('refuses buffers smaller than 512 MiB', () => {
    expect(() => measureBandwidth(k, {bytes: 1024 * 1024})).toThrow(BackendError);
  });
});
