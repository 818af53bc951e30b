/** config.json -> ModelConfig for every family: defaults, variants, and errors that name file and key. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {ConfigError, IoError, UnsupportedArchitectureError} from '../../../src/core/errors.js';
import {parseModelConfig} from '../../../src/core/model/architectures/index.js';
import {readConfigJson, type ModelConfig} from '../../../src/core/model/config.js';

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, {recursive: true, force: true});
});

/** Writes `json` as config.json in a fresh directory; returns the directory and the file. */
function writeConfig(json: unknown): {dir: string; file: string} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-config-'));
  tmpDirs.push(dir);
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return {dir, file};
}

function parse(json: unknown): ModelConfig {
  return parseModelConfig(readConfigJson(writeConfig(json).dir)).config;
}

/** Expects parsing to throw a ConfigError whose message starts with the file and matches `pattern`. */
function expectConfigError(json: unknown, pattern: RegExp): void {
  const {dir, file} = writeConfig(json);
  let error: unknown;
  try {
    parseModelConfig(readConfigJson(dir));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message.startsWith(`${file}: `), (error as Error).message).toBe(true);
  expect((error as Error).message).toMatch(pattern);
}

const llama = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  vocab_size: 100,
};
const gpt2 = {architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 48, n_layer: 2, n_head: 4, vocab_size: 90};
const opt = {
  architectures: ['OPTForCausalLM'],
  model_type: 'opt',
  hidden_size: 32,
  ffn_dim: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 70,
  max_position_embeddings: 64,
};

describe('Llama family', () => {
  it('fills HF defaults: kv heads, head_dim, eps, theta, context, untied', () => {
    expect(parse(llama)).toMatchObject({
      family: 'llama',
      architecture: 'LlamaForCausalLM',
      dim: 64,
      hiddenDim: 172,
      nLayers: 2,
      nHeads: 8,
      nKvHeads: 8,
      headDim: 8,
      embedDim: 64,
      maxSeqLen: 2048,
      norm: 'rmsnorm',
      normEps: 1e-6,
      preNorm: true,
      finalNorm: true,
      activation: 'silu',
      gatedFfn: true,
      qkvBias: false,
      outBias: false,
      ffnBias: false,
      positions: {kind: 'rope', theta: 10000, scaling: {kind: 'none'}},
      tiedEmbeddings: false,
      ffnTopK: null,
      bosTokenId: null,
      eosTokenIds: [],
      torchDtype: null,
    });
  });

  it('reads explicit kv heads, head_dim and the rest', () => {
    const c = parse({
      ...llama,
      num_key_value_heads: 2,
      head_dim: 16,
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      hire_ffn_topk: 0.25,
    });
    expect(c).toMatchObject({nKvHeads: 2, headDim: 16, maxSeqLen: 4096, normEps: 1e-5, tiedEmbeddings: true});
    expect(c).toMatchObject({positions: {kind: 'rope', theta: 500000}, torchDtype: 'bfloat16', ffnTopK: 0.25});
  });

  it('parses every rope_scaling form', () => {
    const scaling = (s: unknown) => (parse({...llama, rope_scaling: s}).positions as {scaling: unknown}).scaling;
    expect(scaling(null)).toEqual({kind: 'none'});
    expect(scaling({rope_type: 'default'})).toEqual({kind: 'none'});
    expect(scaling({type: 'linear', factor: 4})).toEqual({kind: 'linear', factor: 4}); // older "type" key
    expect(scaling({rope_type: 'linear', factor: 2.5})).toEqual({kind: 'linear', factor: 2.5});
    const llama3 = {rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192};
    expect(scaling(llama3)).toEqual({kind: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192});
  });

  it('rejects unsupported or incomplete rope_scaling, naming the key', () => {
    expectConfigError({...llama, rope_scaling: {rope_type: 'yarn', factor: 4}}, /rope_scaling type "yarn".*linear, llama3/);
    expectConfigError({...llama, rope_scaling: {rope_type: 'linear'}}, /"factor"/);
    expectConfigError({...llama, rope_scaling: {rope_type: 'llama3', factor: 8}}, /"low_freq_factor"/);
    expectConfigError({...llama, rope_scaling: 'linear'}, /"rope_scaling" must be an object/);
  });

  it('reads bos and eos, eos as one id or a list', () => {
    expect(parse({...llama, bos_token_id: 1, eos_token_id: 2})).toMatchObject({bosTokenId: 1, eosTokenIds: [2]});
    expect(parse({...llama, eos_token_id: [128001, 128008, 128009]}).eosTokenIds).toEqual([128001, 128008, 128009]);
    expectConfigError({...llama, eos_token_id: [2, 'x']}, /"eos_token_id" must be a token id or a list/);
  });

  it('knows the biases of Qwen2 and attention_bias / mlp_bias', () => {
    const qwen = parse({...llama, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2'});
    expect(qwen).toMatchObject({architecture: 'Qwen2ForCausalLM', qkvBias: true, outBias: false, ffnBias: false});
    expect(parse({...llama, attention_bias: true})).toMatchObject({qkvBias: true, outBias: true});
    expect(parse({...llama, mlp_bias: true})).toMatchObject({ffnBias: true});
    expect(parse({...llama, architectures: ['MistralForCausalLM']}).architecture).toBe('MistralForCausalLM');
  });

  it('falls back to model_type when "architectures" is absent', () => {
    const {architectures: _, ...bare} = llama;
    expect(parse({...bare, model_type: 'mistral'})).toMatchObject({family: 'llama', architecture: 'MistralForCausalLM'});
    expect(parse({...bare, model_type: 'qwen2'})).toMatchObject({architecture: 'Qwen2ForCausalLM', qkvBias: true});
    expect(parse(bare).architecture).toBe('LlamaForCausalLM');
  });

  it('names the file and key of invalid values', () => {
    expectConfigError({...llama, hidden_size: '64'}, /"hidden_size" must be a non-negative integer, got "64"/);
    expectConfigError({...llama, num_hidden_layers: 2.5}, /"num_hidden_layers" must be a non-negative integer/);
    expectConfigError({...llama, num_attention_heads: -8}, /"num_attention_heads" must be a non-negative integer/);
    expectConfigError({...llama, rms_norm_eps: 'tiny'}, /"rms_norm_eps" must be a number/);
    expectConfigError({...llama, tie_word_embeddings: 'yes'}, /"tie_word_embeddings" must be true or false/);
    expectConfigError({...llama, hidden_act: 'tanh'}, /unsupported activation "tanh" in "hidden_act"/);
    expectConfigError({...llama, torch_dtype: 16}, /"torch_dtype" must be a string/);
    expectConfigError({...llama, num_key_value_heads: 3}, /num_attention_heads \(8\) must be a multiple of num_key_value_heads \(3\)/);
    expectConfigError({...llama, head_dim: 7}, /head dimension 7 must be even/);
    expectConfigError({...llama, hire_ffn_topk: 1.5}, /hire_ffn_topk must be in \(0, 1\]/);
    const {intermediate_size: _, ...noFfn} = llama;
    expectConfigError(noFfn, /missing required key "intermediate_size"/);
    // Sizes must be at least 1, and the message names the HF key.
    expectConfigError({...llama, num_hidden_layers: 0}, /"num_hidden_layers" must be at least 1, got 0/);
  });
});

describe('GPT-2', () => {
  it('takes n_inner null (or absent) as 4 * n_embd', () => {
    expect(parse({...gpt2, n_inner: null}).hiddenDim).toBe(192);
    expect(parse(gpt2).hiddenDim).toBe(192);
    expect(parse({...gpt2, n_inner: 100}).hiddenDim).toBe(100);
  });

  it('fills the fixed GPT-2 choices', () => {
    expect(parse({...gpt2, n_positions: 256, bos_token_id: 89, eos_token_id: 89})).toMatchObject({
      family: 'gpt2',
      architecture: 'GPT2LMHeadModel',
      dim: 48,
      nHeads: 4,
      nKvHeads: 4,
      headDim: 12,
      maxSeqLen: 256,
      norm: 'layernorm',
      normEps: 1e-5,
      activation: 'gelu_tanh',
      gatedFfn: false,
      qkvBias: true,
      positions: {kind: 'learned', offset: 0},
      tiedEmbeddings: true,
      bosTokenId: 89,
      eosTokenIds: [89],
    });
    expect(parse(gpt2).maxSeqLen).toBe(1024);
    expect(parse({...gpt2, activation_function: 'gelu'}).activation).toBe('gelu');
  });

  it('rejects n_embd not divisible by n_head', () => {
    expectConfigError({...gpt2, n_head: 5}, /n_embd \(48\) must be divisible by n_head \(5\)/);
  });
});

describe('OPT', () => {
  it('defaults: pre-norm, final norm, relu, positions offset 2, embedDim = hidden_size', () => {
    expect(parse(opt)).toMatchObject({
      family: 'opt',
      dim: 32,
      hiddenDim: 128,
      embedDim: 32,
      headDim: 8,
      maxSeqLen: 64,
      preNorm: true,
      finalNorm: true,
      activation: 'relu',
      positions: {kind: 'learned', offset: 2},
      tiedEmbeddings: true,
      qkvBias: true,
      ffnBias: true,
    });
  });

  it('reads word_embed_proj_dim and do_layer_norm_before false (no final norm)', () => {
    expect(parse({...opt, word_embed_proj_dim: 16, do_layer_norm_before: false})).toMatchObject({
      embedDim: 16,
      dim: 32,
      preNorm: false,
      finalNorm: false,
    });
    expect(parse({...opt, _remove_final_layer_norm: true})).toMatchObject({preNorm: true, finalNorm: false});
    expect(parse({...opt, enable_bias: false})).toMatchObject({qkvBias: false, outBias: false, ffnBias: false});
  });

  it('rejects what it cannot run', () => {
    expectConfigError({...opt, layer_norm_elementwise_affine: false}, /layer_norm_elementwise_affine = false is not supported/);
    expectConfigError({...opt, word_embed_proj_dim: 'x'}, /"word_embed_proj_dim" must be a non-negative integer/);
    expectConfigError({...opt, do_layer_norm_before: 0}, /"do_layer_norm_before" must be true or false/);
  });
});

describe('config.json itself', () => {
  it('reports a missing directory, a missing file and invalid JSON', () => {
    const missing = path.join(os.tmpdir(), 'hire-config-does-not-exist');
    expect(() => readConfigJson(missing)).toThrow(IoError);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'hire-config-'));
    tmpDirs.push(empty);
    expect(() => readConfigJson(empty)).toThrow(`${path.join(empty, 'config.json')}: missing`);
    expectConfigError('{"hidden_size": 64,', /invalid JSON/);
    expectConfigError('[1, 2]', /expected a JSON object/);
  });

  it('names the unknown architecture and lists the supported ones', () => {
    const {dir, file} = writeConfig({...llama, architectures: ['FalconForCausalLM']});
    expect(() => parseModelConfig(readConfigJson(dir))).toThrow(UnsupportedArchitectureError);
    expect(() => parseModelConfig(readConfigJson(dir))).toThrow(
      `${file}: unsupported architecture "FalconForCausalLM"; supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel, OPTForCausalLM`,
    );
    const unknownType = writeConfig({hidden_size: 8, model_type: 'falcon'});
    expect(() => parseModelConfig(readConfigJson(unknownType.dir))).toThrow('unsupported architecture "falcon"');
    const noType = writeConfig({hidden_size: 8});
    expect(() => parseModelConfig(readConfigJson(noType.dir))).toThrow('unsupported architecture "(none given)"');
  });
});
