/**
 * Whole decodes on the tfjs backend (wasm engine): the real llama2xs checkpoint reproduces the
 * reference greedy tokens; tiny synthetic checkpoints of every family give the reference
 * backend's logits at every position; and 100 decode steps leave tfjs's live tensor count flat.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Backend} from '../../../../src/core/backends/backend.js';
import {ReferenceBackend} from '../../../../src/core/backends/reference/reference-backend.js';
import {createTfjsBackend, type TfjsBackend} from '../../../../src/core/backends/tfjs/tfjs-backend.js';
import {Transformer} from '../../../../src/core/decode/forward.js';
import {Session} from '../../../../src/core/engine/session.js';
import {openModel} from '../../../../src/core/model/load.js';
import {uploadWeights} from '../../../../src/core/decode/weights.js';
import {writeSyntheticCheckpoint, type SyntheticSpec} from '../../../../src/core/model/synthetic.js';
import {HAVE_SHARED, LLAMA2XS_DIR, readLlama2xsReference} from '../../../helpers/shared.js';
import {expectClose} from './helpers.js';
import {greedyIds} from '../../../helpers/greedy.js';

let tfb: TfjsBackend;
const tmpDirs: string[] = [];

beforeAll(async () => {
  tfb = await createTfjsBackend();
});
afterAll(() => {
  tfb?.dispose();
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

/** Opens `dir` on `backend` (weights uploaded, checkpoint closed again). */
function load(dir: string, backend: Backend): Transformer {
  const source = openModel(dir);
  try {
    return new Transformer(source.config, uploadWeights(source, backend), backend);
  } finally {
    source.checkpoint.close();
  }
}

function synthetic(spec: SyntheticSpec): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-tfjs-'));
  tmpDirs.push(dir);
  writeSyntheticCheckpoint(dir, spec);
  return dir;
}

describe.runIf(HAVE_SHARED)('tfjs backend: llama2xs', () => {
  it('reproduces the 64 reference greedy tokens', async () => {
    const ref = readLlama2xsReference();
    const model = load(LLAMA2XS_DIR, tfb);
    const prompt = ref.prompt_token_ids;
    const expected = ref.greedy_token_ids.slice(prompt.length, prompt.length + 64);
    expect(await greedyIds(Session.onBackend(openModel(LLAMA2XS_DIR), tfb, model), prompt, 64)).toEqual(expected);
  });

  it('matches the first-step top-10 reference logits within 1e-4', async () => {
    const ref = readLlama2xsReference();
    const model = load(LLAMA2XS_DIR, tfb);
    const cache = model.createCache();
    const ids = ref.prompt_token_ids;
    let logits: Float32Array = new Float32Array();
    for (let pos = 0; pos < ids.length; pos++) logits = await tfb.read(await model.forward(ids[pos]!, pos, cache));
    for (const [id, value] of ref.first_step_top10_logits) expect(Math.abs(logits[id]! - value)).toBeLessThan(1e-4);
  });
});

describe('tfjs backend: every family against the reference backend', () => {
  const base = {dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 96, vocabSize: 211, maxSeqLen: 64, seed: 5};
  const llama3Scaling = {kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 32} as const;
  const cases: Array<[string, SyntheticSpec]> = [
    [
      'llama GQA, q/k/v/o and mlp biases, untied, bf16',
      {...base, family: 'llama', nKvHeads: 2, qkvBias: true, mlpBias: true, tied: false, dtype: 'BF16'},
    ],
    [
      'qwen2 with llama3 rope scaling, f16',
      {...base, family: 'llama', architecture: 'Qwen2ForCausalLM', nKvHeads: 1, dtype: 'F16', ropeScaling: llama3Scaling},
    ],
    ['gpt2 (learned positions, layernorm, gelu_tanh, Conv1D)', {...base, family: 'gpt2'}],
    ['opt post-norm with project_in/out', {...base, family: 'opt', optPreNorm: false, optProjDim: 48, tied: true}],
  ];
  for (const [name, spec] of cases) {
    it(name, async () => {
      const dir = synthetic(spec);
      const ref = new ReferenceBackend();
      const models = [load(dir, tfb), load(dir, ref)] as const;
      const caches = models.map((mdl) => mdl.createCache(24));
      for (let pos = 0; pos < 24; pos++) {
        const token = (pos * 37 + 11) % spec.vocabSize;
        const got = await tfb.read(await models[0].forward(token, pos, caches[0]!));
        const want = await ref.read(await models[1].forward(token, pos, caches[1]!));
        expectClose(got, want, 1e-4);
      }
    });
  }
});

describe('tfjs backend: no tensor leaks', () => {
  it('keeps tf.memory().numTensors flat over 100 decode steps', async () => {
    const dir = synthetic({
      family: 'llama',
      dim: 64,
      nLayers: 3,
      nHeads: 4,
      nKvHeads: 2,
      hiddenDim: 128,
      vocabSize: 300,
      maxSeqLen: 128,
      seed: 3,
      qkvBias: true,
    });
    const model = load(dir, tfb);
    const cache = model.createCache(100);
    const counts: number[] = [];
    const bytes: number[] = [];
    let token = 1;
    for (let pos = 0; pos < 100; pos++) {
      const logits = await tfb.read(await model.forward(token, pos, cache));
      token = logits.indexOf(Math.max(...logits));
      counts.push(tf.memory().numTensors);
      bytes.push(tf.memory().numBytes);
    }
    expect(counts[99]).toBe(counts[0]);
    expect(bytes[99]).toBe(bytes[0]);
    expect(new Set(counts).size).toBe(1);
  });
});
