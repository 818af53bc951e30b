/**
 * Multi-device decoding (worker threads, one backend and one weight shard each): exact mode is
 * token for token the single-device decode (dense and HiRE output layers, GQA, top-k FFN, GPT-2),
 * DaT moves fewer bytes, and a device that throws, exits or hangs gives a BackendError naming it.
 * The devices run the compiled worker (dist/): `npm test` builds first; a missing build is built here.
 */
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DistributedModel, type DistributedOptions} from '../../../src/core/parallel/distributed-model.js';
import {chooseDistributedHead} from '../../../src/core/parallel/heads.js';
import {BackendError} from '../../../src/core/errors.js';
import {writeSyntheticCheckpoint} from '../../../src/core/model/synthetic.js';
import {multiDevice as multiDeviceIds, singleDevice as singleDeviceIds} from '../../helpers/devices.js';
import {HAVE_SHARED, LLAMA2XS_DIR, PROJECT_ROOT} from '../../helpers/shared.js';
import {configOf} from '../../helpers/bundles.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-dist-'));
const LLAMA = path.join(tmp, 'llama');
const GPT2 = path.join(tmp, 'gpt2');
const DEMO = path.join(PROJECT_ROOT, 'models/shakespeare-topk.hire');
const GREEDY = {temperature: 0, topK: 0, topP: 1};
const PROMPT = [5, 9, 14, 3];

beforeAll(() => {
  if (!fs.existsSync(path.join(PROJECT_ROOT, 'dist/core/parallel/device-worker.js'))) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {cwd: PROJECT_ROOT, stdio: 'ignore'});
    } catch {
      // tsc emits even with type errors elsewhere; the existence check below is what matters
    }
  }
  // GQA 4/2, relu top-k FFN, untied head
  writeSyntheticCheckpoint(LLAMA, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 150, maxSeqLen: 64, activation: 'relu', ffnTopK: 0.2, tied: false, seed: 7});
  // layer norms, learned positions, biases, fused q/k/v
  writeSyntheticCheckpoint(GPT2, {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, vocabSize: 130, maxSeqLen: 64, seed: 8});
});
afterAll(() => fs.rmSync(tmp, {recursive: true, force: true}));

const singleDevice = (dir: string, n: number, bundleHead = false) => singleDeviceIds(dir, PROMPT, n, {bundleHead});
const multiDevice = (o: DistributedOptions, n: number) => multiDeviceIds(o, PROMPT, n);

describe('multi-device decoding, exact mode', () => {
  for (const devices of [1, 2, 3]) {
    it(`llama (GQA, top-k FFN) on ${devices} device(s) equals one device token for token`, async () => {
      const want = await singleDevice(LLAMA, 20);
      const got = await multiDevice({modelDir: LLAMA, devices, topk: 'exact', head: {kind: 'dense'}}, 20);
      expect(got.ids).toEqual(want);
    });
  }

  it('tfjs and reference devices give the same tokens (webgpu devices: webgpu-devices.test.ts)', async () => {
    const want = await singleDevice(LLAMA, 12);
    for (const backend of ['tfjs', 'reference']) {
      expect((await multiDevice({modelDir: LLAMA, devices: 2, backend, topk: 'exact', head: {kind: 'dense'}}, 12)).ids).toEqual(want);
    }
  });

  it('gpt2 (layer norm, learned positions, biases) on 2 devices equals one device', async () => {
    const got = await multiDevice({modelDir: GPT2, devices: 2, topk: 'exact', head: {kind: 'dense'}}, 16);
    expect(got.ids).toEqual(await singleDevice(GPT2, 16));
  });

  it.skipIf(!HAVE_SHARED)('llama2xs on 2 and 4 devices equals one device', async () => {
    const want = await singleDevice(LLAMA2XS_DIR, 24);
    for (const devices of [2, 4]) {
      expect((await multiDevice({modelDir: LLAMA2XS_DIR, devices, topk: 'exact', head: {kind: 'dense'}}, 24)).ids).toEqual(want);
    }
  });

  it('the demo bundle with HiRE-Softmax on 2 devices equals single-device HiRE; DaT moves fewer bytes', async () => {
    const want = await singleDevice(DEMO, 24, true);
    const model = configOf(DEMO);
    const exactHead = chooseDistributedHead(DEMO, model, GREEDY, {devices: 2, topk: 'exact'}).head;
    expect(exactHead.kind).toBe('hire');
    // the single-device reference runs the dense FFN (ffn 'off'); HiRE-FFN on devices is ffn-devices.test.ts
    const exact = await multiDevice({modelDir: DEMO, devices: 2, topk: 'exact', head: exactHead, ffn: {ffn: 'off'}}, 24);
    expect(exact.ids).toEqual(want);
    const datHead = chooseDistributedHead(DEMO, model, GREEDY, {devices: 2, topk: 'dat'}).head;
    const dat = await multiDevice({modelDir: DEMO, devices: 2, topk: 'dat', head: datHead}, 24);
    expect(dat.ids).toHaveLength(24);
    expect(dat.model.traffic().softmax * 10).toBeLessThan(exact.model.traffic().softmax);
  });
});

describe('a failing device', () => {
  for (const mode of ['THROW', 'EXIT', 'HANG'] as const) {
    it(`that ${mode === 'THROW' ? 'throws' : mode === 'EXIT' ? 'exits' : 'hangs'} gives a BackendError naming it, not a hang`, async () => {
      const model = await DistributedModel.open({modelDir: LLAMA, devices: 2, topk: 'exact', head: {kind: 'dense'}, timeoutMs: 1500});
      try {
        await model.reset(16);
        model.group.failNext(1, mode);
        const err = await model.advance([1, 2], 0).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BackendError);
        expect((err as Error).message).toMatch(mode === 'THROW' ? /device 1 failed: .*on purpose/ : mode === 'EXIT' ? /device 1 exited/ : /device 1 did not answer within 1500 ms/);
        // the group stays failed
        await expect(model.advance([3], 2)).rejects.toThrow(/device 1/);
      } finally {
        await model.dispose();
      }
    });
  }

  it('on an unknown backend is refused before any device starts, naming the backends there are', async () => {
    await expect(DistributedModel.open({modelDir: LLAMA, devices: 2, backend: 'no-such-backend', topk: 'exact', head: {kind: 'dense'}})).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/unknown backend "no-such-backend"; available: cpu, tfjs, webgpu, reference/),
    });
  });
});
