/**
 * Hugging Face config.json -> one typed ModelConfig shared by every architecture family.
 * HF snake_case keys appear only in this file and in architectures/*.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import {ConfigError, IoError} from '../errors.js';
import {CONFIG_JSON, readJsonFile, shortJson} from '../io/read-file.js';
import {checkConfigLimits} from './config-limits.js';

export type Family = 'llama' | 'gpt2' | 'opt';
import type {Activation} from '../numeric/activations.js';

export type {Activation} from '../numeric/activations.js';
export type NormKind = 'rmsnorm' | 'layernorm';

/** How RoPE frequencies are stretched for long contexts (HF `rope_scaling`). */
export type RopeScaling =
  | {kind: 'none'}
  | {kind: 'linear'; factor: number}
  | {
      kind: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositions: number;
    };

export type Positions =
  | {kind: 'rope'; theta: number; scaling: RopeScaling}
  /** Learned absolute positions; OPT looks up row `pos + offset` (offset 2). */
  | {kind: 'learned'; offset: number};

export interface ModelConfig {
  family: Family;
  /** The HF class name, e.g. LlamaForCausalLM. */
  architecture: string;
  dim: number; // residual stream width (hidden_size / n_embd)
  hiddenDim: number; // FFN width (intermediate_size / n_inner / ffn_dim)
  nLayers: number;
  nHeads: number;
  nKvHeads: number; // < nHeads for grouped-query attention
  headDim: number;
  vocabSize: number;
  maxSeqLen: number;
  /** Width of the token embedding; differs from dim only for OPT's word_embed_proj_dim. */
  embedDim: number;
  norm: NormKind;
  normEps: number;
  /** false only for OPT models with do_layer_norm_before = false (norm after the residual add). */
  preNorm: boolean;
  /** Whether a norm is applied after the last layer. */
  finalNorm: boolean;
  activation: Activation;
  /** Llama-style gate/up/down FFN: down(act(gate x) * up x). */
  gatedFfn: boolean;
  qkvBias: boolean;
  outBias: boolean;
  ffnBias: boolean;
  positions: Positions;
  tiedEmbeddings: boolean;
  /**
   * Fraction of FFN hidden activations kept (top-k FFN), or null for a dense FFN. Read from the
   * extra key `hire_ffn_topk` that models trained with top-k FFN (our demo model) carry.
   */
  ffnTopK: number | null;
  /**
   * How W_out (down_proj / c_proj / fc2) is stored: 'standard' is the family's own layout;
   * 'neuron-rows' is [hiddenDim, dim], one contiguous row per FFN neuron, as HiRE bundles with
   * an FFN section store it (config key `hire_ffn_layout`).
   */
  ffnLayout: FfnLayout;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** torch_dtype as written in config.json (informational). */
  torchDtype: string | null;
}

export type FfnLayout = 'standard' | 'neuron-rows';

/** A parsed config.json plus the path it came from, for error messages. */
export interface RawConfig {
  file: string;
  json: Record<string, unknown>;
}

export function readConfigJson(modelDir: string): RawConfig {
  const file = path.join(modelDir, 'config.json');
  if (!fs.existsSync(modelDir)) {
    throw new IoError(modelDir, 'no such file or directory');
  }
  if (!fs.existsSync(file)) {
    throw new ConfigError(file, 'missing: a model directory needs the config.json of a Hugging Face checkpoint');
  }
  const json = readJsonFile(file, CONFIG_JSON, (f, problem, options) => new ConfigError(f, problem, options));
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError(file, 'expected a JSON object');
  }
  return {file, json: json as Record<string, unknown>};
}

/** Typed accessors that name the file and key on failure. */
export class ConfigReader {
  constructor(readonly raw: RawConfig) {}

  has(key: string): boolean {
    const v = this.raw.json[key];
    return v !== undefined && v !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.raw.json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.raw.file, `missing required key "${key}"`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new ConfigError(this.raw.file, `"${key}" must be a non-negative integer, got ${shortJson(v)}`);
    }
    return v;
  }

  /** A size that must be at least 1 (dimensions, layer and head counts). */
  size(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v < 1) throw new ConfigError(this.raw.file, `"${key}" must be at least 1, got ${v}`);
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw.json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.raw.file, `missing required key "${key}"`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ConfigError(this.raw.file, `"${key}" must be a number, got ${shortJson(v)}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw.json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      throw new ConfigError(this.raw.file, `"${key}" must be true or false, got ${shortJson(v)}`);
    }
    return v;
  }

  str(key: string, fallback?: string): string {
    const v = this.raw.json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.raw.file, `missing required key "${key}"`);
    }
    if (typeof v !== 'string') {
      throw new ConfigError(this.raw.file, `"${key}" must be a string, got ${shortJson(v)}`);
    }
    return v;
  }

  /** A token id or list of token ids (eos_token_id may be either). */
  ids(key: string): number[] {
    const v = this.raw.json[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        throw new ConfigError(this.raw.file, `"${key}" must be a token id or a list of token ids`);
      }
    }
    return list as number[];
  }

  fail(problem: string): never {
    throw new ConfigError(this.raw.file, problem);
  }
}

export function parseActivation(reader: ConfigReader, key: string, fallback: string): Activation {
  const name = reader.str(key, fallback);
  switch (name) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'relu':
      return 'relu';
    case 'gelu':
      return 'gelu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 'gelu_tanh';
    default:
      return reader.fail(`unsupported activation "${name}" in "${key}"; supported: silu, relu, gelu, gelu_new, gelu_pytorch_tanh`);
  }
}

/** Checks that hold for every family; architectures call this last. */
export function validateConfig(config: ModelConfig, file: string): ModelConfig {
  const positive: Array<keyof ModelConfig> = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'vocabSize', 'maxSeqLen', 'embedDim'];
  for (const key of positive) {
    const v = config[key] as number;
    if (!(v > 0)) throw new ConfigError(file, `${key} must be positive, got ${v}`);
  }
  checkConfigLimits(config, file);
  if (config.nHeads % config.nKvHeads !== 0) {
    throw new ConfigError(file, `num_attention_heads (${config.nHeads}) must be a multiple of num_key_value_heads (${config.nKvHeads})`);
  }
  if (config.positions.kind === 'rope' && config.headDim % 2 !== 0) {
    throw new ConfigError(file, `head dimension ${config.headDim} must be even for rotary embeddings`);
  }
  if (config.ffnTopK !== null && !(config.ffnTopK > 0 && config.ffnTopK <= 1)) {
    throw new ConfigError(file, `hire_ffn_topk must be in (0, 1], got ${config.ffnTopK}`);
  }
  return config;
}

/**
 * How the top-k FFN ranks hidden activations: by value after a plain relu, by magnitude otherwise
 * (a gated product, silu or gelu output can be negative).
 */
export function ffnTopKByMagnitude(c: Pick<ModelConfig, 'gatedFfn' | 'activation'>): boolean {
  return c.gatedFfn || c.activation !== 'relu';
}

/** Reads the optional W_out layout key written into HiRE bundles. */
export function readFfnLayout(reader: ConfigReader): FfnLayout {
  const v = reader.str('hire_ffn_layout', 'standard');
  if (v !== 'standard' && v !== 'neuron-rows') reader.fail(`"hire_ffn_layout" must be "standard" or "neuron-rows", got "${v}"`);
  return v as FfnLayout;
}

/** Reads the optional top-k FFN fraction written by top-k-trained models. */
export function readFfnTopK(reader: ConfigReader): number | null {
  return reader.has('hire_ffn_topk') ? reader.num('hire_ffn_topk') : null;
}
