/**
 * Whole-decode parity of every fast backend against the reference backend: logits on synthetic
 * checkpoints of each family and dtype (q/k/v/o biases and top-k FFNs included), and the llama2xs
 * reference tokens.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../src/core/engine/session.js';
import {logitsOver} from '../../helpers/logits.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../src/core/model/synthetic.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../helpers/shared.js';
import {greedyIds} from '../../helpers/greedy.js';
import {SKIP_WEBGPU} from '../../helpers/webgpu.js';
import {expectClose} from './tfjs/helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, {recursive: true, force: true})));

const SPECS: Record<string, SyntheticSpec> = {
  'llama gqa bf16': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 32, dtype: 'BF16', seed: 3},
  'llama gqa bf16, q/k/v/o biases': {family: 'llama', dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 96, vocabSize: 300, maxSeqLen: 32, dtype: 'BF16', qkvBias: true, seed: 3},
  'llama untied f16': {family: 'llama', dim: 48, nLayers: 2, nHeads: 3, hiddenDim: 80, vocabSize: 200, maxSeqLen: 32, dtype: 'F16', tied: false, seed: 4},
  'llama relu top-k FFN f32': {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 96, vocabSize: 100, maxSeqLen: 32, activation: 'relu', ffnTopK: 0.1, seed: 8},
  'llama silu top-k FFN (by magnitude)': {family: 'llama', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 96, vocabSize: 100, maxSeqLen: 32, ffnTopK: 0.2, seed: 10},
  'gpt2 f32': {family: 'gpt2', dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 128, vocabSize: 150, maxSeqLen: 32, seed: 5},
  'opt post-norm with project_in/out f32': {family: 'opt', dim: 32, nLayers: 2, nHeads: 2, hiddenDim: 64, vocabSize: 120, maxSeqLen: 32, optPreNorm: false, optProjDim: 16, seed: 6},
};

for (const backend of ['cpu', 'tfjs', 'webgpu']) {
  describe.skipIf(backend === 'webgpu' && SKIP_WEBGPU)(`${backend} backend against the reference`, () => {
    for (const [name, spec] of Object.entries(SPECS)) {
      it(`${name}: logits agree over 12 positions (rel 1e-4)`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-parity-'));
        dirs.push(dir);
        writeSyntheticCheckpoint(dir, spec);
        const tokens = Array.from({length: 12}, (_, i) => (i * 37 + 5) % spec.vocabSize);
        const ref = await logitsOver(dir, 'reference', tokens);
        const got = await logitsOver(dir, backend, tokens);
        for (let p = 0; p < tokens.length; p++) expectClose(got[p]!, ref[p]!, 1e-4);
      });
    }

    it.runIf(HAVE_SHARED)('reproduces the 64 llama2xs reference tokens', async () => {
      const ref = readLlama2xsReference();
      const s = await Session.open(LLAMA2XS_DIR, {backend});
      try {
        const n = ref.prompt_token_ids.length;
        expect(await greedyIds(s, ref.prompt_token_ids, 64)).toEqual(ref.greedy_token_ids.slice(n, n + 64));
      } finally {
        s.dispose();
      }
    });
  });
}
