/**
 * The webgpu backend on ggml block matrices (q8_0, q4_0), repacked into its q8 / q4 kinds with one
 * f32 scale per 32 columns: every matrix kernel against the reference backend (the blocks
 * dequantised exactly), with the adapter's kernel shapes and with the GPU shapes in small chunks
 * (the path of matrices above the largest storage binding).
 */
import {afterAll, describe, expect, it} from 'vitest';
import type {WebGpuBackend, WebGpuBackendOptions} from '../../../src/core/backends/webgpu/webgpu-backend.js';
import {blockParitySuite} from '../../helpers/block-parity.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';

afterAll(disposeWebGpu);

const VARIANTS: Array<[string, WebGpuBackendOptions]> = [
  ['adapter kernel shapes', {}],
  ['GPU kernel shapes, 4 KiB chunks', {threadsPerRow: 64, normThreads: 256, maxChunkBytes: 4096, serialTopK: false}],
];

for (const [variant, opts] of VARIANTS) {
  describe.skipIf(SKIP_WEBGPU)(`webgpu block kernels (${variant})`, () => {
    let gpu: WebGpuBackend;
    it('starts', async () => {
      gpu = await openWebGpu(opts);
      expect(gpu.describe()).toMatch(/^webgpu \(/);
    });
    blockParitySuite(`webgpu ${variant}`, () => gpu);
  });
}
