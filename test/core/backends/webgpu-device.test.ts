/**
 * The webgpu backend's device handling: adapter description, clear errors when Dawn finds no
 * adapter, device loss and use after dispose as BackendErrors, the process surviving garbage
 * collection while a device is in use (the cause of the old Dawn aborts), GPU buffers of
 * unreachable handles freed, and `hire bench` saying
 * that llvmpipe figures are not GPU figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import {afterAll, describe, expect, it} from 'vitest';
import {createBackend} from '../../../src/core/backends/index.js';
import {openGpu, type CreateGpu} from '../../../src/core/backends/webgpu/device.js';
import {createWebGpuBackend} from '../../../src/core/backends/webgpu/webgpu-backend.js';
import {runBench} from '../../../src/core/tasks/bench/run.js';
import {BackendError} from '../../../src/core/errors.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-webgpu-dev-'));
afterAll(() => {
  disposeWebGpu();
  fs.rmSync(tmp, {recursive: true, force: true});
});

describe('webgpu device errors (no Dawn adapter needed)', () => {
  it('says which packages and settings are needed when Dawn finds no adapter', async () => {
    const none: CreateGpu = () => ({requestAdapter: async () => null}) as unknown as GPU;
    const error = await openGpu('auto', none).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toMatch(/found no adapter.*mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgles2.*EGL_PLATFORM=surfaceless/);
    await expect(openGpu('gpu', none)).rejects.toThrow(/no GPU adapter/);
  });

  it('rejects an unknown HIRE_WEBGPU_ADAPTER value', async () => {
    const before = process.env['HIRE_WEBGPU_ADAPTER'];
    process.env['HIRE_WEBGPU_ADAPTER'] = 'tpu';
    try {
      await expect(createWebGpuBackend()).rejects.toThrow(/HIRE_WEBGPU_ADAPTER must be auto, gpu or llvmpipe, not "tpu"/);
    } finally {
      if (before === undefined) delete process.env['HIRE_WEBGPU_ADAPTER'];
      else process.env['HIRE_WEBGPU_ADAPTER'] = before;
    }
  });
});

describe.skipIf(SKIP_WEBGPU)('webgpu device', () => {
  it('is registered, and describes its adapter (and says when it is not a GPU)', async () => {
    const b = await createBackend('webgpu');
    try {
      expect(b.name).toBe('webgpu');
      const soft = (b as {software?: boolean}).software;
      expect(b.describe()).toMatch(soft ? /^webgpu \(.*compatibility; software rasteriser, not a GPU\)$/ : /^webgpu \(.*core\)$/);
    } finally {
      b.dispose();
    }
  });

  it('turns a lost device into a BackendError, then refuses every call', async () => {
    const b = await openWebGpu();
    const x = b.uploadVector(Float32Array.from([1, 2]));
    expect(Array.from(await b.read(x))).toEqual([1, 2]);
    (b as unknown as {device: GPUDevice}).device.destroy(); // what a driver reset looks like to us
    await expect(b.read(x)).rejects.toThrow(BackendError);
    await new Promise((r) => setTimeout(r, 20));
    await expect(b.read(x)).rejects.toThrow(/the GPU device was lost/);
    expect(() => b.createVector(3)).toThrow(/the GPU device was lost/);
  });

  it('refuses use after dispose', async () => {
    const b = await createWebGpuBackend();
    const x = b.createVector(2);
    b.dispose();
    await expect(b.read(x)).rejects.toThrow(/disposed/);
  });

  it('survives garbage collection of everything but the device while it works', async () => {
    // Before the Dawn instance was held for the process, GC freed it under a live device and the
    // process died in InstanceBase::ProcessEvents within a few hundred reads.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const b = await openWebGpu();
    const w = b.uploadMatrix({dtype: 'f32', rows: 64, cols: 64, data: new Float32Array(64 * 64).fill(0.5)});
    const x = b.uploadVector(new Float32Array(64).fill(1));
    const out = b.createVector(64);
    for (let i = 0; i < 300; i++) {
      b.matvec(w, x, out);
      expect((await b.read(out))[63]).toBe(32);
      if (i % 25 === 0) gc();
    }
  });

  it('frees the GPU buffers of KV caches and matrices once they are unreachable', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const b = await openWebGpu();
    const owned = () => (b as unknown as {owned: Set<unknown>}).owned.size;
    const x = b.uploadVector(new Float32Array(8).fill(1));
    const before = owned();
    (() => {
      for (let i = 0; i < 4; i++) {
        const cache = b.createKvCache({nLayers: 3, nKvHeads: 2, headDim: 4, maxSeqLen: 16});
        b.attention(x, x, x, cache, 0, 0, {nHeads: 2, nKvHeads: 2, headDim: 4}, b.createVector(8)); // q = k = v: one binding
        b.uploadMatrix({dtype: 'f32', rows: 4, cols: 4, data: new Float32Array(16)});
      }
    })();
    expect(owned()).toBeGreaterThan(before + 4 * 6);
    for (let i = 0; i < 3 && owned() > before; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      await b.read(x); // buffers of collected handles are destroyed after this submit
    }
    expect(owned()).toBe(before);
    expect(Array.from(await b.read(x))).toEqual(new Array(8).fill(1));
  });

  it('bench --backend webgpu reports the same figures, with a note when they are not GPU figures', async () => {
    const dir = path.join(tmp, 'tiny');
    writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 1, nHeads: 2, hiddenDim: 64, vocabSize: 64, maxSeqLen: 16, seed: 1});
    const r = await runBench({model: dir, backend: 'webgpu', tokens: 3, promptTokens: 2, probe: false});
    expect(r.backend).toBe('webgpu');
    expect(r.rows[0]!.decodeTokensPerSecond).toBeGreaterThan(0);
    if (r.backendInfo.includes('not a GPU')) expect(r.notes.join('\n')).toMatch(/llvmpipe.*not GPU figures/);
  });
});
