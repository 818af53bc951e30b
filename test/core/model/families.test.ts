/**
 * Every supported family and variant, end to end: a tiny synthetic checkpoint in the real Hugging
 * Face layout, loaded by openModel and decoded step by step with a KV cache on the reference
 * backend, against the independent whole-sequence oracle in test/helpers/oracle.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {Session} from '../../../src/core/engine/session.js';
import {logitsOver} from '../../helpers/logits.js';
import {ConfigError, TokenizerError, UnsupportedArchitectureError, UsageError, WeightError} from '../../../src/core/errors.js';
import {SUPPORTED_CLASSES, parseModelConfig} from '../../../src/core/model/architectures/index.js';
import {readConfigJson} from '../../../src/core/model/config.js';
import {openModel, parameterCount} from '../../../src/core/model/load.js';
import {
  SYNTHETIC_SHAPES,
  syntheticConfig,
  syntheticTensors,
  writeSyntheticCheckpoint,
  type SyntheticSpec,
} from '../../../src/core/model/synthetic.js';
import {Checkpoint, writeSafetensors, type TensorData} from '../../../src/core/model/formats/safetensors/index.js';
import {oracleLogits} from '../../helpers/oracle.js';
import {caught} from '../../helpers/caught.js';

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-families-'));
  tmpDirs.push(dir);
  return dir;
}

function writeModel(spec: SyntheticSpec, maxShardBytes?: number): string {
  const dir = tempDir();
  writeSyntheticCheckpoint(dir, spec, {maxShardBytes});
  return dir;
}

/** Seeded token ids in [0, vocabSize). */
function tokenIds(n: number, vocabSize: number, seed: number): number[] {
  return Array.from({length: n}, (_, i) => (seed * 7919 + i * 104729 + i * i * 31) % vocabSize);
}

/** Logits at every position, decoding one token at a time with a KV cache. */
const sessionLogits = (dir: string, tokens: readonly number[]) => logitsOver(dir, 'reference', tokens);

function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let max = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++) max = Math.max(max, Math.abs(row[i]! - b[t]![i]!));
  });
  return max;
}

/** Checks the session against the oracle, and that the logits are not degenerate. */
async function expectMatchesOracle(dir: string, tokens: readonly number[]): Promise<void> {
  const expected = oracleLogits(dir, tokens);
  const actual = await sessionLogits(dir, tokens);
  expect(actual).toHaveLength(tokens.length);
  expect(actual[0]).toHaveLength(expected[0]!.length);
  // Both sides compute in float64 from the same f32 (or widened 16-bit) weights; what remains is
  // summation order and read() returning f32 (half an ulp, < 5e-7 while |logit| < 16).
  const diff = maxAbsDiff(actual, expected);
  expect(diff, `max |session - oracle| = ${diff}`).toBeLessThan(1e-6);
  const all = expected.flatMap((row) => [...row]);
  const mean = all.reduce((a, v) => a + v, 0) / all.length;
  const std = Math.sqrt(all.reduce((a, v) => a + (v - mean) ** 2, 0) / all.length);
  expect(std).toBeGreaterThan(0.1);
  expect(Math.max(...all.map(Math.abs))).toBeLessThan(16);
}

const llama: SyntheticSpec = {family: 'llama', dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, hiddenDim: 48, vocabSize: 64, maxSeqLen: 32, seed: 1};
const gpt2: SyntheticSpec = {family: 'gpt2', dim: 24, nLayers: 2, nHeads: 3, hiddenDim: 96, vocabSize: 80, maxSeqLen: 16, seed: 2};
const opt: SyntheticSpec = {family: 'opt', dim: 16, nLayers: 2, nHeads: 2, hiddenDim: 40, vocabSize: 50, maxSeqLen: 12, seed: 3};

const cases: Array<[string, SyntheticSpec]> = [
  ['Llama, tied embeddings, grouped-query attention', llama],
  ['Llama, untied lm_head, multi-head attention', {...llama, nKvHeads: 4, tied: false, seed: 4}],
  ['Llama, head_dim != hidden_size / num_attention_heads', {...llama, headDim: 12, seed: 5}],
  ['Llama, attention_bias (q/k/v/o biases)', {...llama, qkvBias: true, seed: 6}],
  ['Llama, mlp_bias', {...llama, mlpBias: true, seed: 7}],
  ['Llama, relu with top-k FFN (hire_ffn_topk 0.25)', {...llama, activation: 'relu', ffnTopK: 0.25, seed: 17}],
  ['Llama, rope_scaling linear', {...llama, ropeScaling: {kind: 'linear', factor: 4}, seed: 8}],
  [
    'Llama, rope_scaling llama3 (high, medium and low frequencies)',
    {
      ...llama,
      nHeads: 2,
      nKvHeads: 1,
      ropeTheta: 10000,
      ropeScaling: {kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 512},
      seed: 9,
    },
  ],
  ['Qwen2, q/k/v biases, theta 1e6, untied', {...llama, architecture: 'Qwen2ForCausalLM', ropeTheta: 1e6, tied: false, seed: 10}],
  ['Mistral class name', {...llama, architecture: 'MistralForCausalLM', seed: 11}],
  ['Llama, BF16 weights', {...llama, dtype: 'BF16', seed: 12}],
  ['Llama, F16 weights', {...llama, dtype: 'F16', seed: 13}],
  ['GPT-2, transformer. prefix', gpt2],
  ['GPT-2, bare names (openai-community/gpt2 layout)', {...gpt2, bareNames: true, seed: 14}],
  ['GPT-2, n_inner != 4 * n_embd', {...gpt2, hiddenDim: 40, seed: 15}],
  ['OPT, pre-norm', opt],
  ['OPT, post-norm (do_layer_norm_before false)', {...opt, optPreNorm: false, seed: 16}],
  ['OPT, project_in/project_out, post-norm (opt-350m layout)', {...opt, optPreNorm: false, optProjDim: 12, seed: 17}],
  ['OPT, project_in/project_out, pre-norm, decoder. prefix', {...opt, optProjDim: 20, bareNames: true, seed: 18}],
];

describe('families against the whole-sequence oracle', () => {
  it.each(cases)('%s', async (_name, spec) => {
    const dir = writeModel(spec);
    await expectMatchesOracle(dir, tokenIds(spec.family === 'opt' ? 8 : 7, spec.vocabSize, spec.seed));
  });

  it('a sharded checkpoint (model.safetensors.index.json) decodes the same', async () => {
    const dir = writeModel(llama, 8192);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(2);
    await expectMatchesOracle(dir, tokenIds(6, llama.vocabSize, 99));
  });
});

describe('GPT-2 attn.bias buffer', () => {
  it('is written like real checkpoints carry it, and the loader ignores it', () => {
    const dir = writeModel(gpt2);
    const ckpt = Checkpoint.open(dir);
    try {
      expect(ckpt.info('transformer.h.1.attn.bias').shape).toEqual([1, 1, gpt2.maxSeqLen, gpt2.maxSeqLen]);
    } finally {
      ckpt.close();
    }
    const source = openModel(dir);
    try {
      expect(source.specs.some((s) => /\bh\.\d+\.attn\.(bias|masked_bias)$/.test(s.name))).toBe(false);
    } finally {
      source.checkpoint.close();
    }
  });

  it('does not affect the logits even when it holds a bogus dtype and values', async () => {
    const dir = writeModel(gpt2);
    const tokens = tokenIds(7, gpt2.vocabSize, 5);
    const before = oracleLogits(dir, tokens);
    rewriteWeights(dir, (tensors) => {
      for (let l = 0; l < gpt2.nLayers; l++) {
        const n = gpt2.maxSeqLen;
        tensors.set(`transformer.h.${l}.attn.bias`, {dtype: 'BOOL', shape: [1, 1, n, n], data: new Uint8Array(n * n)});
        tensors.set(`transformer.h.${l}.attn.masked_bias`, {dtype: 'F32', shape: [], data: new Float32Array([-1e4])});
      }
    });
    const after = await sessionLogits(dir, tokens);
    expect(maxAbsDiff(after, before)).toBeLessThan(1e-6);
  });
});

/** Rewrites model.safetensors after `edit` changes its tensors (names in file order). */
function rewriteWeights(dir: string, edit: (tensors: Map<string, TensorData>) => void): void {
  const file = path.join(dir, 'model.safetensors');
  const ckpt = Checkpoint.open(file);
  const tensors = new Map<string, TensorData>();
  for (const name of ckpt.names()) {
    const info = ckpt.info(name);
    tensors.set(name, {dtype: info.dtype, shape: [...info.shape], data: ckpt.readBytes(name).slice()});
  }
  ckpt.close();
  edit(tensors);
  writeSafetensors(file, tensors);
}

describe('openModel errors', () => {
  it('names config.json when it is missing', () => {
    const dir = writeModel(llama);
    fs.rmSync(path.join(dir, 'config.json'));
    const error = caught(() => openModel(dir));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(path.join(dir, 'config.json'));
    expect(error.message).toMatch(/missing/);
  });

  it('lists the supported classes for an unknown architecture', () => {
    const dir = writeModel(llama);
    const config = {...syntheticConfig(llama), architectures: ['FalconForCausalLM'], model_type: 'falcon'};
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const error = caught(() => openModel(dir));
    expect(error).toBeInstanceOf(UnsupportedArchitectureError);
    expect(error.message).toContain(path.join(dir, 'config.json'));
    expect(error.message).toContain('FalconForCausalLM');
    for (const cls of ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'GPT2LMHeadModel', 'OPTForCausalLM']) {
      expect(SUPPORTED_CLASSES).toContain(cls);
      expect(error.message).toContain(cls);
    }
  });

  it('names the file and the tensor when a tensor is missing', () => {
    const dir = writeModel(llama);
    rewriteWeights(dir, (t) => t.delete('model.layers.1.mlp.up_proj.weight'));
    const error = caught(() => openModel(dir));
    expect(error).toBeInstanceOf(WeightError);
    expect(error.message).toContain(path.join(dir, 'model.safetensors'));
    expect(error.message).toContain('"model.layers.1.mlp.up_proj.weight"');
  });

  it('names the expected and actual shapes when a tensor has the wrong shape', () => {
    const dir = writeModel(llama);
    // k_proj is (nKvHeads * headDim, dim) = [16, 32]; store the same bytes as [32, 16].
    rewriteWeights(dir, (t) => {
      t.get('model.layers.0.self_attn.k_proj.weight')!.shape = [32, 16];
    });
    const error = caught(() => openModel(dir));
    expect(error).toBeInstanceOf(WeightError);
    expect(error.message).toContain(path.join(dir, 'model.safetensors'));
    expect(error.message).toContain('model.layers.0.self_attn.k_proj.weight');
    expect(error.message).toContain('[32, 16]');
    expect(error.message).toContain('expected [16, 32]');
  });

  it('fails when tokenizer.json is required but missing', async () => {
    const dir = writeModel(llama);
    const error = await Session.open(dir, {backend: 'reference'}).then(
      () => new Error('expected a rejection'),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(TokenizerError);
    expect(error.message).toContain(path.join(dir, 'tokenizer.json'));
  });
});

describe('synthetic checkpoints', () => {
  it('are deterministic per seed and independent of sharding', () => {
    const read = (dir: string, name: string) => {
      const ckpt = Checkpoint.open(dir);
      try {
        return ckpt.readBytes(name).slice();
      } finally {
        ckpt.close();
      }
    };
    const name = 'model.layers.1.self_attn.v_proj.weight';
    const a = read(writeModel(llama), name);
    expect(read(writeModel(llama), name)).toEqual(a);
    expect(read(writeModel(llama, 4096), name)).toEqual(a);
    expect(read(writeModel({...llama, seed: 2}), name)).not.toEqual(a);
  });

  it('write the extra hire_ffn_topk key and the dtype as torch_dtype', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(syntheticConfig({...opt, ffnTopK: 0.125, dtype: 'F16'})));
    expect(parseModelConfig(readConfigJson(dir)).config).toMatchObject({ffnTopK: 0.125, torchDtype: 'float16'});
  });

  it('reject options the family does not have', () => {
    expect(() => syntheticTensors({...gpt2, nKvHeads: 1})).toThrow(UsageError);
    expect(() => syntheticTensors({...opt, ropeTheta: 1e4})).toThrow(UsageError);
    expect(() => syntheticTensors({...llama, architecture: 'MistralForCausalLM', mlpBias: true})).toThrow(UsageError);
    expect(() => syntheticTensors({...llama, nKvHeads: 3})).toThrow(/multiple of nKvHeads/);
  });

  // Parameter counts (lm_head counted when untied; GPT-2's attn.bias buffers are not parameters).
  const nominal: Record<string, number> = {
    'llama-15m': 15.2e6,
    'llama-110m': 109.5e6,
    'llama-110m-gqa': 100.1e6,
    'llama-470m': 468.0e6,
    'gpt2-124m': 124.4e6,
    'llama-1b': 1236e6,
  };

  it.each(Object.keys(SYNTHETIC_SHAPES))('named shape %s matches what the loader expects', (name) => {
    const spec = {...SYNTHETIC_SHAPES[name]!, seed: 0};
    const dir = tempDir();
    // config.json plus a header-only view of the tensors: check the specs without writing weights.
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(syntheticConfig(spec)));
    const tensors = new Map(syntheticTensors(spec).map((t) => [t.name, t]));
    const {config, arch} = parseModelConfig(readConfigJson(dir));
    for (const s of arch.weightSpecs(config, new Set(tensors.keys()))) {
      expect(tensors.get(s.name)?.shape, s.name).toEqual(s.storedShape);
    }
    const params = [...tensors.values()]
      .filter((t) => !/\.attn\.bias$/.test(t.name))
      .reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(Math.abs(params / nominal[name]! - 1)).toBeLessThan(0.002);
  });

  it('writes a named shape in shards that openModel accepts', () => {
    const dir = writeModel({...SYNTHETIC_SHAPES['llama-15m']!, seed: 7, dtype: 'BF16'}, 8 << 20);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(2);
    const source = openModel(dir);
    try {
      expect(source.config).toMatchObject({family: 'llama', dim: 288, nLayers: 6, tiedEmbeddings: true, torchDtype: 'bfloat16'});
      expect(parameterCount(source)).toBe(15_191_712);
      expect(index.metadata.total_size).toBe(2 * 15_191_712);
    } finally {
      source.checkpoint.close();
    }
  });
});
