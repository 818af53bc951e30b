/**
 * The cpu backend (WebAssembly kernels, KV cache in the shared memory) against the reference
 * backend through the shared kernel suite, on two threads with every call split over them however
 * small (minParallelBytes 0), and the KV cache's memory: a released cache's block is reused, and
 * caches made and dropped by many generations do not pile up.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CpuBackend} from '../../../../src/core/backends/cpu/cpu-backend.js';
import {CpuKernels} from '../../../../src/core/backends/cpu/kernels.js';
import {CpuKvCache} from '../../../../src/core/backends/cpu/kv-cache.js';
import {Session} from '../../../../src/core/engine/session.js';
import {writeSyntheticCheckpoint} from '../../../../src/core/model/synthetic.js';
import {kernelParitySuite} from '../../../helpers/kernel-parity.js';
import {greedyIds} from '../../../helpers/greedy.js';

let cpu: CpuBackend;
beforeAll(async () => {
  cpu = new CpuBackend(await CpuKernels.create({threads: 2, minParallelBytes: 0}));
});
afterAll(() => cpu.dispose());

kernelParitySuite('cpu backend', () => cpu, {matvecShapes: [[1, 1], [37, 53], [130, 300]]});

describe('cpu KV cache memory', () => {
  it('a released cache gives its block back: the next cache of that size takes it', () => {
    const shape = {nLayers: 2, nKvHeads: 2, headDim: 16, maxSeqLen: 64};
    const a = cpu.createKvCache(shape);
    const top = cpu.kernels.bytes;
    cpu.releaseKvCache(a);
    cpu.releaseKvCache(a); // twice is harmless
    cpu.createKvCache(shape);
    expect(cpu.kernels.bytes).toBe(top);
    cpu.createKvCache(shape);
    expect(cpu.kernels.bytes).toBeGreaterThan(top);
  });

  it("a cache's layers lie one after another (keys, then values), bad layers and a released cache are clear errors", () => {
    const shape = {nLayers: 3, nKvHeads: 2, headDim: 16, maxSeqLen: 8};
    const c = cpu.createKvCache(shape) as CpuKvCache;
    const half = 2 * 8 * 16 * 4;
    for (let l = 0; l < 3; l++) {
      const layer = c.layer(l);
      expect(layer).toEqual({dtype: 'f32', nKvHeads: 2, headDim: 16, maxLen: 8, keys: c.ptr + 2 * l * half, values: c.ptr + (2 * l + 1) * half});
      expect(c.layer(l)).toBe(layer); // made once
    }
    for (const bad of [-1, 3, 1.5, Number.NaN]) expect(() => c.layer(bad)).toThrow(/KV cache layer .* outside 0\.\.2/);
    cpu.releaseKvCache(c);
    expect(() => c.layer(0)).toThrow(/this KV cache was released/);
  });

  it('generations close their sequences: 20 generations take no more memory than 2', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-cpu-kv-'));
    try {
      writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 64, vocabSize: 50, maxSeqLen: 512, seed: 2});
      const s = await Session.open(dir, {backend: 'cpu', threads: 1, tokenizer: 'none'});
      try {
        await greedyIds(s, [1, 2, 3], 2);
        await greedyIds(s, [1, 2, 3], 2);
        const bytes = (s.backend as CpuBackend).kernels.bytes;
        for (let i = 0; i < 18; i++) await greedyIds(s, [1, 2, 3], 2);
        expect((s.backend as CpuBackend).kernels.bytes).toBe(bytes);
      } finally {
        s.dispose();
      }
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  });
});

describe('cpu batched predictor matrices', () => {
  it('matvecBatch on int8 / int4 matrices reads each row once for all vectors and gives each vector matvec\'s bits', async () => {
    const {quantize} = await import('../../../../src/core/numeric/quant.js');
    const rand = (() => {
      let s = 7;
      return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    })();
    for (const bits of [8, 4] as const) {
      expect(cpu.supports('sharedBatch', bits === 8 ? 'q8' : 'q4')).toBe(true);
      const [rows, cols] = [45, 96];
      const w = cpu.uploadQuantMatrix(quantize(Float32Array.from({length: rows * cols}, rand), rows, cols, bits, 32));
      const xs = [0, 1, 2].map(() => cpu.uploadVector(Float32Array.from({length: cols}, rand)));
      const outs = xs.map(() => cpu.createVector(rows));
      cpu.matvecBatch(w, xs, outs);
      for (const [i, x] of xs.entries()) {
        const one = cpu.createVector(rows);
        cpu.matvec(w, x, one);
        expect(Array.from(await cpu.read(outs[i]!)), `int${bits} vector ${i}`).toEqual(Array.from(await cpu.read(one)));
      }
    }
    expect(cpu.supports('sharedBatch', 'q2')).toBe(false);
  });
});
