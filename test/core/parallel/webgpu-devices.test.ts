/**
 * WebGPU devices (--devices N --backend webgpu): N GPUDevices in the main thread, each with its own
 * webgpu backend and weight shard (local-devices.ts). Exact mode decodes token for token as one
 * webgpu device does (a synthetic gated model with a top-k FFN, and the demo bundle with
 * HiRE-Softmax and HiRE-FFN), DaT moves fewer bytes, a failing device gives a BackendError naming
 * it, and the process survives opening and disposing device groups (Dawn aborted the process when
 * worker threads holding it shut down, hence in-process devices).
 * Needs Dawn with a GPU or Mesa's llvmpipe; HIRE_SKIP_WEBGPU=1 skips it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {singleDevice} from '../../helpers/devices.js';
import {DistributedModel, type DistributedOptions} from '../../../src/core/parallel/distributed-model.js';
import {generateTokens} from '../../../src/core/decode/generate.js';
import {chooseDistributedHead} from '../../../src/core/parallel/heads.js';
import {describeGpus} from '../../../src/core/parallel/local-devices.js';
import {BackendError} from '../../../src/core/errors.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {PROJECT_ROOT} from '../../helpers/shared.js';
import {SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {configOf} from '../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-dist-gpu-'));
const GATED = path.join(tmp, 'gated');
const DEMO = path.join(PROJECT_ROOT, 'models/shakespeare-topk.hire');
const GREEDY = {temperature: 0, topK: 0, topP: 1};
const PROMPT = [5, 9, 14, 3];
/** HiRE-FFN selection runs on every device, with a slack that makes it read every group. */
const EVERY_GROUP = {ffnKPrime: 0, ffnSlack: 1_000};
const LONG = 240_000;

beforeAll(() => {
  // gated silu FFN with biases, top-k FFN (exact mode all-gathers the devices' lists), GQA 4/2
  writeSyntheticCheckpoint(GATED, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: 150, maxSeqLen: 64, ffnTopK: 0.25, mlpBias: true, tied: false, seed: 11});
});
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

/** One webgpu device, no devices machinery (the output layer from the bundle when asked). */
const singleGpu = (dir: string, n: number, bundleHead = false) => singleDevice(dir, PROMPT, n, {backend: 'webgpu', bundleHead});

async function decode(model: DistributedModel, n: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of generateTokens(model, PROMPT, {maxTokens: n, sampling: GREEDY, seed: 0, eosTokenIds: [], head: model.openedHead})) ids.push(t.id);
  return ids;
}

async function multiGpu(o: Omit<DistributedOptions, 'backend'>, n: number): Promise<{ids: number[]; model: DistributedModel}> {
  const model = await DistributedModel.open({...o, backend: 'webgpu'});
  try {
    return {ids: await decode(model, n), model};
  } finally {
    await model.dispose();
  }
}

describe('describeGpus', () => {
  it('says whether the GPUDevices share one adapter', () => {
    expect(describeGpus(['llvmpipe, compatibility', 'llvmpipe, compatibility'])).toBe('2 GPUDevices from one adapter (llvmpipe, compatibility)');
    expect(describeGpus(['a', 'b', 'a'])).toBe('3 GPUDevices on 2 adapters (a; b)');
  });
});

describe.skipIf(SKIP_WEBGPU)('webgpu devices in-process', () => {
  it(
    'a synthetic gated model (top-k FFN, GQA) on 2 devices, exact mode, equals one webgpu device token for token',
    async () => {
      const want = await singleGpu(GATED, 16);
      expect(new Set(want).size).toBeGreaterThan(3); // not a degenerate repeat
      const got = await multiGpu({modelDir: GATED, devices: 2, topk: 'exact', head: {kind: 'dense'}}, 16);
      expect(got.ids).toEqual(want);
      expect(got.model.describe()).toMatch(/^2 devices in-process: 2 GPUDevices (from one adapter|on 2 adapters) \(.+\), webgpu \(/);
      // the same vectors cross between devices as with worker devices: two all-reduces per layer
      expect(got.model.traffic().allReduce).toBe(2 * 2 * 2 * 1 * 32 * 4);
    },
    LONG,
  );

  it(
    'the demo bundle with HiRE-Softmax and HiRE-FFN on 2 devices equals one webgpu device; DaT moves fewer bytes',
    async () => {
      const want = await singleGpu(DEMO, 16, true);
      expect(new Set(want).size).toBeGreaterThan(3);
      const model = configOf(DEMO);
      const exactHead = chooseDistributedHead(DEMO, model, GREEDY, {devices: 2, topk: 'exact'}).head;
      expect(exactHead.kind).toBe('hire');
      const exact = await multiGpu({modelDir: DEMO, devices: 2, topk: 'exact', head: exactHead, ffn: EVERY_GROUP}, 16);
      expect(exact.model.ffn().sparse).toBe(true);
      expect(exact.ids).toEqual(want);
      // DaT at the bundle's k' and k'_g (real HiRE-FFN selection on each device)
      const datHead = chooseDistributedHead(DEMO, model, GREEDY, {devices: 2, topk: 'dat'}).head;
      const dat = await multiGpu({modelDir: DEMO, devices: 2, topk: 'dat', head: datHead}, 16);
      expect(dat.ids).toHaveLength(16);
      expect(dat.model.ffn().sparse).toBe(true);
      expect(dat.model.traffic().softmax * 10).toBeLessThan(exact.model.traffic().softmax);
      expect(dat.model.traffic().total).toBeLessThan(exact.model.traffic().total);
    },
    LONG,
  );

  it(
    'survives disposing device groups: open, decode, dispose twice, then decode again',
    async () => {
      const o = {modelDir: GATED, devices: 2, topk: 'dat', head: {kind: 'dense'}, backend: 'webgpu'} as const;
      let first: number[] | null = null;
      for (let round = 0; round < 3; round++) {
        const model = await DistributedModel.open(o);
        const ids = await decode(model, 6);
        await model.dispose();
        await model.dispose();
        await expect(model.advance([1], 0)).rejects.toThrow(/after dispose/);
        first ??= ids;
        expect(ids).toEqual(first);
      }
    },
    LONG,
  );
});

describe.skipIf(SKIP_WEBGPU)('a failing webgpu device', () => {
  for (const [mode, what, message] of [
    ['THROW', 'throws', /device 1 failed: .*on purpose/],
    ['EXIT', 'loses its GPUDevice', /device 1 failed: webgpu: /],
    ['HANG', 'hangs', /^device 1 did not answer within 3000 ms .*device 0 waited for it/],
  ] as const) {
    it(
      `that ${what} gives a BackendError naming it, not a hang`,
      async () => {
        const model = await DistributedModel.open({modelDir: GATED, devices: 2, backend: 'webgpu', topk: 'exact', head: {kind: 'dense'}, timeoutMs: 3000});
        try {
          await model.reset(16);
          model.group.failNext(1, mode);
          const err = await model.advance([1, 2], 0).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(BackendError);
          expect((err as Error).message).toMatch(message);
          // the group stays failed
          await expect(model.advance([3], 2)).rejects.toThrow(/device 1/);
        } finally {
          await model.dispose();
        }
      },
      LONG,
    );
  }
});
