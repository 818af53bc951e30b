/**
 * Whole decodes on the webgpu backend beyond what parity.test.ts checks for every backend (logits
 * of synthetic checkpoints, the llama2xs greedy tokens): the llama2xs first-step logits, and
 * HiRE-Softmax's sparse path (predictor, candidates, exact rows) and HiRE-FFN's (predictor,
 * gathered rows of W_gate/W_up, keepTopK, accumulateRows over W_out rows) against the reference.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Backend, Vec} from '../../../src/core/backends/backend.js';
import {ReferenceBackend} from '../../../src/core/backends/reference/reference-backend.js';
import {syntheticFfnPlans} from '../../../src/core/hire/ffn/synthetic-plans.js';
import {syntheticPredictor} from '../../../src/core/hire/predictor/synthetic.js';
import {Session} from '../../../src/core/engine/session.js';
import type {SamplingOptions} from '../../../src/core/decode/sampler.js';
import {calibrate} from '../../../src/core/tasks/calibrate/calibrate.js';
import {installFfnPlans} from '../../../src/core/hire/ffn/setup.js';
import {chooseHead, type HeadOptions} from '../../../src/core/hire/softmax/choose-head.js';
import {HireSoftmaxHead} from '../../../src/core/hire/softmax/head.js';
import type {SoftmaxKind} from '../../../src/core/hire/predictor/predictor.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../src/core/model/synthetic.js';
import {greedyIds} from '../../helpers/greedy.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../helpers/shared.js';
import {writeTinyTokenizer} from '../../helpers/tiny-tokenizer.js';
import {disposeWebGpu, openWebGpu, SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {expectClose, randomArray, rng} from './tfjs/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-webgpu-'));
afterAll(() => {
  disposeWebGpu();
  fs.rmSync(tmp, {recursive: true, force: true});
});

describe.skipIf(SKIP_WEBGPU)('webgpu backend: whole decodes against the reference', () => {
  it.runIf(HAVE_SHARED)('llama2xs: the first-step top-10 logits within 1e-4', async () => {
    const ref = readLlama2xsReference();
    const s = await Session.open(LLAMA2XS_DIR, {backend: 'webgpu'});
    try {
      const n = ref.prompt_token_ids.length;
      const cache = s.model.createCache();
      let logits: Float32Array = new Float32Array();
      for (let pos = 0; pos < n; pos++) logits = await s.backend.read(await s.model.forward(ref.prompt_token_ids[pos]!, pos, cache));
      for (const [id, value] of ref.first_step_top10_logits) expect(Math.abs(logits[id]! - value)).toBeLessThan(1e-4);
    } finally {
      s.dispose();
    }
  });
});

describe.skipIf(SKIP_WEBGPU)('webgpu backend: HiRE-Softmax sparse path', () => {
  const [V, dim] = [300, 32];
  const random = rng(41);
  const lmHost = {dtype: 'f32' as const, rows: V, cols: dim, data: randomArray(V * dim, random, 1 / Math.sqrt(dim))};

  for (const kind of ['lowrank', 'quant', 'lowrank+quant'] as SoftmaxKind[]) {
    it(`${kind} predictor: same approximate logits, candidates and exact logits as the reference`, async () => {
      const gpu = await openWebGpu({hostTopK: false}); // candidates by the GPU topK kernels, on llvmpipe too
      const ref = new ReferenceBackend();
      const predictor = syntheticPredictor({kind, vocabSize: V, dim, rank: 8, bits: 4, groupSize: 32, seed: 3});
      const heads = ([gpu, ref] as Backend[]).map((b) => new HireSoftmaxHead(b, b.uploadMatrix(lmHost), predictor, {kPrime: 20, certifyK: null}));
      for (let step = 0; step < 4; step++) {
        const h = randomArray(dim, random);
        const hv: Vec[] = [gpu.uploadVector(h), ref.uploadVector(h)];
        expectClose(await heads[0]!.approximate(hv[0]!), await heads[1]!.approximate(hv[1]!), 1e-5);
        const [got, want] = [await heads[0]!.next(hv[0]!), await heads[1]!.next(hv[1]!)];
        expect(Array.from(got.ids!)).toEqual(Array.from(want.ids!));
        expectClose(got.logits, want.logits, 1e-5);
      }
    });
  }

  describe('certified decoding with a calibrated bundle', () => {
    const GREEDY: SamplingOptions = {temperature: 0, topK: 0, topP: 1};
    let bundle = '';
    beforeAll(async () => {
      const dir = path.join(tmp, 'calib-model');
      writeSyntheticCheckpoint(dir, {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 64, vocabSize: 300, maxSeqLen: 128, seed: 9});
      writeTinyTokenizer(dir);
      const text = path.join(tmp, 'calib.txt');
      fs.writeFileSync(text, 'the quick brown fox jumps over the lazy dog; hi hi, a chat about hills. '.repeat(20));
      bundle = path.join(tmp, 'calib.hire');
      await calibrate({model: dir, data: [text], out: bundle, tokens: 600, rank: 8, seqLen: 64, backend: 'reference'});
    });

    async function decode(head: HeadOptions): Promise<{ids: number[]; widened: number}> {
      const s = await Session.open(bundle, {backend: 'webgpu', tokenizer: 'none'});
      try {
        const c = s.config;
        const {head: h} = chooseHead(bundle, {backend: s.backend, lmHead: s.model.weights.lmHead, config: c}, GREEDY, head);
        return {ids: await greedyIds(s, [1, 100, 120, 140], 24, h), widened: h.stats().widenings};
      } finally {
        s.dispose();
      }
    }

    it('certified greedy decoding equals dense decoding token for token on webgpu', async () => {
      const dense = await decode({dense: true});
      const certified = await decode({certify: true, kPrime: 2});
      expect(certified.ids).toEqual(dense.ids);
      expect(certified.widened).toBeGreaterThan(0);
    });
  });
});

describe.skipIf(SKIP_WEBGPU)('webgpu backend: HiRE-FFN sparse path', () => {
  const cases: Array<[string, SyntheticSpec, number]> = [
    ['gated silu, half the groups', {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 120, maxSeqLen: 32, mlpBias: true, seed: 12}, 0.5],
    ['gated silu, every group (= dense top-k FFN)', {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 120, maxSeqLen: 32, seed: 13}, 1],
    ['gpt2 gelu_tanh with biases, a quarter of the groups', {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 120, maxSeqLen: 32, seed: 14}, 0.25],
  ];
  for (const [name, spec, read] of cases) {
    it(`${name}: logits agree with the reference backend over 10 positions`, async () => {
      const dir = path.join(tmp, `ffn-${spec.seed}`);
      writeSyntheticCheckpoint(dir, spec);
      const run = async (backend: string) => {
        const s = await Session.open(dir, {backend, tokenizer: 'none', ffnNeuronRows: true});
        try {
          const plans = syntheticFfnPlans(s.config, {kind: 'lowrank+quant', bits: 8, groupSize: 8, topK: 0.25, read});
          const sparse = await installFfnPlans(s.model, plans, 0.25);
          s.model.ffnOverride = sparse.layers; // also where every group is read (install would run those dense)
          const cache = s.model.createCache(10);
          const out: Float32Array[] = [];
          for (let pos = 0; pos < 10; pos++) out.push(await s.backend.read(await s.model.forward((pos * 29 + 3) % spec.vocabSize, pos, cache)));
          expect(sparse.layers[0]!.stats().steps).toBe(10);
          return out;
        } finally {
          s.dispose();
        }
      };
      const [want, got] = [await run('reference'), await run('webgpu')];
      for (let p = 0; p < want.length; p++) expectClose(got[p]!, want[p]!, 1e-4);
    });
  }
});
