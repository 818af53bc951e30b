/**
 * Synthetic Hugging Face checkpoints: a config.json with the family's real keys and safetensors
 * with its real tensor names and layouts, filled with seeded random weights. Tests run our forward
 * pass on them against an independent oracle; `hire bench` writes the named shapes to time models
 * of realistic size without downloading any.
 *
 * Weights:
 * - Each tensor is drawn from its own PRNG stream seeded by (seed, tensor name), so its values do
 *   not depend on the order tensors are written in or on how the checkpoint is sharded.
 * - Scales keep activations O(1) through the layers: matrices uniform with std 1/sqrt(fan_in),
 *   the projections that write into the residual stream (o_proj, down_proj, c_proj, out_proj,
 *   fc2) a further 1/sqrt(2 nLayers) as GPT-2 initializes them; embeddings std 1/sqrt(width) so
 *   tied logits are O(1); norm weights 1 +- 0.1; biases std 0.05.
 * - Tensors are generated one shard at a time (writeSafetensors takes a shard's data up front),
 *   so memory stays near `maxShardBytes` whatever the model size.
 */
import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../errors.js';
import {DTYPE_BYTES, float32Tensor, writeSafetensors, type TensorData} from './formats/safetensors/index.js';
import type {Family, RopeScaling} from './config.js';

export interface SyntheticSpec {
  family: Family;
  /** HF class name; llama family only: LlamaForCausalLM (default), MistralForCausalLM, Qwen2ForCausalLM. */
  architecture?: string;
  dim: number;
  nLayers: number;
  nHeads: number;
  /** Default nHeads; llama family only. */
  nKvHeads?: number;
  hiddenDim: number;
  vocabSize: number;
  maxSeqLen: number;
  /** Default dim / nHeads; written as head_dim (llama family only) when given. */
  headDim?: number;
  /** lm_head tied to the token embedding. Default true; GPT-2 is always tied. */
  tied?: boolean;
  /** Stored weight dtype, default F32. */
  dtype?: 'F32' | 'BF16' | 'F16';
  seed: number;
  /** Llama family only. */
  ropeScaling?: RopeScaling;
  /** Llama family only; default 10000. */
  ropeTheta?: number;
  /** Llama: attention_bias (q, k, v and o biases). Qwen2 always has q/k/v biases. */
  qkvBias?: boolean;
  /** Llama: mlp_bias (gate, up and down biases). */
  mlpBias?: boolean;
  /** OPT: do_layer_norm_before (default true); false is post-norm with no final norm. */
  optPreNorm?: boolean;
  /** OPT: word_embed_proj_dim (default dim); when different, project_in/project_out are written. */
  optProjDim?: number;
  /** Written as the extra config key hire_ffn_topk. */
  ffnTopK?: number;
  /** Llama family: hidden_act (default silu). */
  activation?: 'silu' | 'relu';
  /**
   * Tensor names without the root module prefix, as some uploads store them: GPT-2 `h.0...` instead
   * of `transformer.h.0...` (openai-community/gpt2), Llama without `model.`, OPT `decoder.` instead
   * of `model.decoder.`.
   */
  bareNames?: boolean;
}

export interface SyntheticWriteOptions {
  /**
   * Largest shard before the checkpoint is split into `model-0000i-of-0000n.safetensors` files
   * plus `model.safetensors.index.json` (a single tensor larger than this gets a shard of its
   * own). Default 512 MiB. Peak memory while writing is about this much.
   */
  maxShardBytes?: number;
}

/** One tensor of a synthetic checkpoint, in file order. */
export interface SyntheticTensor {
  name: string;
  dtype: TensorData['dtype'];
  shape: number[];
}

const LLAMA_110M: Omit<SyntheticSpec, 'seed'> = {
  family: 'llama', dim: 768, nLayers: 12, nHeads: 12, hiddenDim: 2048, vocabSize: 32000, maxSeqLen: 1024, tied: true,
};

/** Shapes `hire bench` can create by name; add `seed` (and optionally `dtype`) to write one. */
export const SYNTHETIC_SHAPES: Readonly<Record<string, Omit<SyntheticSpec, 'seed'>>> = Object.freeze({
  // llama2.c TinyStories shapes (classifier tied to the embedding).
  'llama-15m': {family: 'llama', dim: 288, nLayers: 6, nHeads: 6, hiddenDim: 768, vocabSize: 32000, maxSeqLen: 256, tied: true},
  'llama-110m': LLAMA_110M,
  'llama-110m-gqa': {...LLAMA_110M, nKvHeads: 4},
  // Untied: 468M parameters, 1.74 GiB in F32.
  'llama-470m': {family: 'llama', dim: 1024, nLayers: 24, nHeads: 16, hiddenDim: 4096, vocabSize: 32000, maxSeqLen: 1024, tied: false},
  'gpt2-124m': {family: 'gpt2', dim: 768, nLayers: 12, nHeads: 12, hiddenDim: 3072, vocabSize: 50257, maxSeqLen: 1024},
  // Llama-3.2-1B-like: GQA 32/8, theta 500000 with llama3 rope scaling, tied embeddings.
  'llama-1b': {
    family: 'llama', dim: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, hiddenDim: 8192, vocabSize: 128256, maxSeqLen: 2048, tied: true,
    ropeTheta: 500000,
    ropeScaling: {kind: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192},
  },
});

const DEFAULT_MAX_SHARD_BYTES = 512 << 20;
const LLAMA_MODEL_TYPES: Readonly<Record<string, string>> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
};
const TORCH_DTYPES = {F32: 'float32', BF16: 'bfloat16', F16: 'float16'} as const;

/** Writes config.json and the safetensors weights of `spec` into `dir` (created if needed). */
export function writeSyntheticCheckpoint(dir: string, spec: SyntheticSpec, options: SyntheticWriteOptions = {}): void {
  const plan = planTensors(spec);
  const dtype = spec.dtype ?? 'F32';
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  fs.mkdirSync(dir, {recursive: true});
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(syntheticConfig(spec), null, 2)}\n`);

  const shards = groupIntoShards(plan, DTYPE_BYTES[dtype], maxShardBytes);
  const metadata = {format: 'pt'};
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  if (shards.length === 1) {
    fs.rmSync(index, {force: true}); // a stale index would describe other weights
    writeSafetensors(single, materialize(shards[0]!, spec.seed, dtype), metadata);
    return;
  }
  fs.rmSync(single, {force: true}); // Checkpoint.open prefers a single file over the index
  const weightMap: Record<string, string> = {};
  const n = String(shards.length).padStart(5, '0');
  shards.forEach((shard, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`;
    writeSafetensors(path.join(dir, file), materialize(shard, spec.seed, dtype), metadata);
    for (const t of shard) weightMap[t.name] = file;
  });
  const totalSize = plan.reduce((sum, t) => sum + numel(t.shape) * DTYPE_BYTES[dtype], 0);
  fs.writeFileSync(index, `${JSON.stringify({metadata: {total_size: totalSize}, weight_map: weightMap}, null, 2)}\n`);
}

/** The tensors `writeSyntheticCheckpoint` writes for `spec` (names, shapes, dtype), in file order. */
export function syntheticTensors(spec: SyntheticSpec): SyntheticTensor[] {
  const dtype = spec.dtype ?? 'F32';
  return planTensors(spec).map((t) => ({name: t.name, dtype, shape: t.shape}));
}

/** The config.json object written for `spec`, with the family's Hugging Face keys. */
export function syntheticConfig(spec: SyntheticSpec): Record<string, unknown> {
  checkSpec(spec);
  const torchDtype = TORCH_DTYPES[spec.dtype ?? 'F32'];
  const extra = spec.ffnTopK === undefined ? {} : {hire_ffn_topk: spec.ffnTopK};
  switch (spec.family) {
    case 'llama':
      return {...llamaConfig(spec), torch_dtype: torchDtype, ...extra};
    case 'gpt2':
      return {
        architectures: ['GPT2LMHeadModel'],
        model_type: 'gpt2',
        n_embd: spec.dim,
        n_layer: spec.nLayers,
        n_head: spec.nHeads,
        n_inner: spec.hiddenDim === 4 * spec.dim ? null : spec.hiddenDim,
        n_positions: spec.maxSeqLen,
        n_ctx: spec.maxSeqLen,
        vocab_size: spec.vocabSize,
        layer_norm_epsilon: 1e-5,
        activation_function: 'gelu_new',
        scale_attn_weights: true,
        bos_token_id: spec.vocabSize - 1,
        eos_token_id: spec.vocabSize - 1,
        torch_dtype: torchDtype,
        ...extra,
      };
    case 'opt':
      return {
        architectures: ['OPTForCausalLM'],
        model_type: 'opt',
        hidden_size: spec.dim,
        ffn_dim: spec.hiddenDim,
        num_hidden_layers: spec.nLayers,
        num_attention_heads: spec.nHeads,
        vocab_size: spec.vocabSize,
        max_position_embeddings: spec.maxSeqLen,
        word_embed_proj_dim: spec.optProjDim ?? spec.dim,
        do_layer_norm_before: spec.optPreNorm ?? true,
        activation_function: 'relu',
        enable_bias: true,
        layer_norm_elementwise_affine: true,
        tie_word_embeddings: spec.tied ?? true,
        bos_token_id: 2,
        eos_token_id: 2,
        pad_token_id: 1,
        torch_dtype: torchDtype,
        ...extra,
      };
  }
}

function llamaConfig(s: SyntheticSpec): Record<string, unknown> {
  const cls = s.architecture ?? 'LlamaForCausalLM';
  const scaling = s.ropeScaling ?? {kind: 'none'};
  const config: Record<string, unknown> = {
    architectures: [cls],
    model_type: LLAMA_MODEL_TYPES[cls],
    hidden_size: s.dim,
    intermediate_size: s.hiddenDim,
    num_hidden_layers: s.nLayers,
    num_attention_heads: s.nHeads,
    num_key_value_heads: s.nKvHeads ?? s.nHeads,
    ...(s.headDim === undefined ? {} : {head_dim: s.headDim}),
    vocab_size: s.vocabSize,
    max_position_embeddings: s.maxSeqLen,
    rms_norm_eps: 1e-5,
    hidden_act: s.activation ?? 'silu',
    rope_theta: s.ropeTheta ?? 10000,
    rope_scaling:
      scaling.kind === 'none'
        ? null
        : scaling.kind === 'linear'
          ? {rope_type: 'linear', factor: scaling.factor}
          : {
              rope_type: 'llama3',
              factor: scaling.factor,
              low_freq_factor: scaling.lowFreqFactor,
              high_freq_factor: scaling.highFreqFactor,
              original_max_position_embeddings: scaling.originalMaxPositions,
            },
    tie_word_embeddings: s.tied ?? true,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (cls === 'LlamaForCausalLM') {
    config['attention_bias'] = s.qkvBias ?? false;
    config['mlp_bias'] = s.mlpBias ?? false;
  } else if (cls === 'MistralForCausalLM') {
    config['sliding_window'] = null;
  } else {
    config['use_sliding_window'] = false;
  }
  return config;
}

// ---- tensor plans ------------------------------------------------------------------------------

/** How a tensor's values are drawn: uniform with this mean and std, or GPT-2's causal-mask buffer. */
type Init = {mean: number; std: number} | 'causal-mask';
interface Planned {
  name: string;
  shape: number[];
  init: Init;
}

const NORM_INIT: Init = {mean: 1, std: 0.1 / Math.sqrt(3)}; // 1 +- 0.1
const BIAS_INIT: Init = {mean: 0, std: 0.05};

/** Collects tensors in order; `linear` writes torch Linear [out, in], `conv1d` GPT-2 Conv1D [in, out]. */
class PlanBuilder {
  readonly tensors: Planned[] = [];
  constructor(private readonly residualScale: number) {}

  add(name: string, shape: number[], init: Init): void {
    this.tensors.push({name, shape, init});
  }
  table(name: string, rows: number, cols: number): void {
    this.add(name, [rows, cols], {mean: 0, std: 1 / Math.sqrt(cols)});
  }
  norm(prefix: string, dim: number, withBias: boolean): void {
    this.add(`${prefix}.weight`, [dim], NORM_INIT);
    if (withBias) this.add(`${prefix}.bias`, [dim], BIAS_INIT);
  }
  linear(prefix: string, out: number, inp: number, opts: {bias: boolean; residual?: boolean}): void {
    this.add(`${prefix}.weight`, [out, inp], this.matrixInit(inp, opts.residual));
    if (opts.bias) this.add(`${prefix}.bias`, [out], BIAS_INIT);
  }
  conv1d(prefix: string, inp: number, out: number, residual = false): void {
    this.add(`${prefix}.weight`, [inp, out], this.matrixInit(inp, residual));
    this.add(`${prefix}.bias`, [out], BIAS_INIT);
  }
  private matrixInit(fanIn: number, residual = false): Init {
    return {mean: 0, std: (residual ? this.residualScale : 1) / Math.sqrt(fanIn)};
  }
}

function planTensors(spec: SyntheticSpec): Planned[] {
  checkSpec(spec);
  const b = new PlanBuilder(1 / Math.sqrt(2 * spec.nLayers));
  if (spec.family === 'llama') planLlama(spec, b);
  else if (spec.family === 'gpt2') planGpt2(spec, b);
  else planOpt(spec, b);
  return b.tensors;
}

function planLlama(s: SyntheticSpec, b: PlanBuilder): void {
  const root = s.bareNames ? '' : 'model.';
  const isLlama = (s.architecture ?? 'LlamaForCausalLM') === 'LlamaForCausalLM';
  const qkvBias = s.architecture === 'Qwen2ForCausalLM' || (isLlama && (s.qkvBias ?? false));
  const outBias = isLlama && (s.qkvBias ?? false);
  const mlpBias = isLlama && (s.mlpBias ?? false);
  const headDim = s.headDim ?? s.dim / s.nHeads;
  const q = s.nHeads * headDim; // (nHeads * headDim, dim)
  const kv = (s.nKvHeads ?? s.nHeads) * headDim; // (nKvHeads * headDim, dim)
  b.table(`${root}embed_tokens.weight`, s.vocabSize, s.dim);
  for (let i = 0; i < s.nLayers; i++) {
    const p = `${root}layers.${i}.`;
    b.linear(`${p}self_attn.q_proj`, q, s.dim, {bias: qkvBias});
    b.linear(`${p}self_attn.k_proj`, kv, s.dim, {bias: qkvBias});
    b.linear(`${p}self_attn.v_proj`, kv, s.dim, {bias: qkvBias});
    b.linear(`${p}self_attn.o_proj`, s.dim, q, {bias: outBias, residual: true});
    b.linear(`${p}mlp.gate_proj`, s.hiddenDim, s.dim, {bias: mlpBias});
    b.linear(`${p}mlp.up_proj`, s.hiddenDim, s.dim, {bias: mlpBias});
    b.linear(`${p}mlp.down_proj`, s.dim, s.hiddenDim, {bias: mlpBias, residual: true});
    b.norm(`${p}input_layernorm`, s.dim, false);
    b.norm(`${p}post_attention_layernorm`, s.dim, false);
  }
  b.norm(`${root}norm`, s.dim, false);
  if (!(s.tied ?? true)) b.table('lm_head.weight', s.vocabSize, s.dim);
}

function planGpt2(s: SyntheticSpec, b: PlanBuilder): void {
  const root = s.bareNames ? '' : 'transformer.';
  const d = s.dim;
  b.table(`${root}wte.weight`, s.vocabSize, d);
  b.table(`${root}wpe.weight`, s.maxSeqLen, d);
  for (let i = 0; i < s.nLayers; i++) {
    const p = `${root}h.${i}.`;
    b.norm(`${p}ln_1`, d, true);
    // Not a weight: the causal-mask buffer older GPT-2 checkpoints carry; loaders must skip it.
    b.add(`${p}attn.bias`, [1, 1, s.maxSeqLen, s.maxSeqLen], 'causal-mask');
    b.conv1d(`${p}attn.c_attn`, d, 3 * d); // q, k, v side by side in the output columns
    b.conv1d(`${p}attn.c_proj`, d, d, true);
    b.norm(`${p}ln_2`, d, true);
    b.conv1d(`${p}mlp.c_fc`, d, s.hiddenDim);
    b.conv1d(`${p}mlp.c_proj`, s.hiddenDim, d, true);
  }
  b.norm(`${root}ln_f`, d, true);
}

function planOpt(s: SyntheticSpec, b: PlanBuilder): void {
  const root = s.bareNames ? 'decoder.' : 'model.decoder.';
  const d = s.dim;
  const embedDim = s.optProjDim ?? d;
  const preNorm = s.optPreNorm ?? true;
  b.table(`${root}embed_tokens.weight`, s.vocabSize, embedDim);
  b.table(`${root}embed_positions.weight`, s.maxSeqLen + 2, d); // looked up at pos + 2
  if (embedDim !== d) {
    b.linear(`${root}project_out`, embedDim, d, {bias: false});
    b.linear(`${root}project_in`, d, embedDim, {bias: false});
  }
  if (preNorm) b.norm(`${root}final_layer_norm`, d, true);
  for (let i = 0; i < s.nLayers; i++) {
    const p = `${root}layers.${i}.`;
    b.linear(`${p}self_attn.k_proj`, d, d, {bias: true});
    b.linear(`${p}self_attn.v_proj`, d, d, {bias: true});
    b.linear(`${p}self_attn.q_proj`, d, d, {bias: true});
    b.linear(`${p}self_attn.out_proj`, d, d, {bias: true, residual: true});
    b.norm(`${p}self_attn_layer_norm`, d, true);
    b.linear(`${p}fc1`, s.hiddenDim, d, {bias: true});
    b.linear(`${p}fc2`, d, s.hiddenDim, {bias: true, residual: true});
    b.norm(`${p}final_layer_norm`, d, true);
  }
  if (!(s.tied ?? true)) b.table('lm_head.weight', s.vocabSize, embedDim);
}

// ---- validation --------------------------------------------------------------------------------

function checkSpec(s: SyntheticSpec): void {
  const fail = (problem: string): never => {
    throw new UsageError(`synthetic ${s.family} model: ${problem}`);
  };
  for (const key of ['dim', 'nLayers', 'nHeads', 'hiddenDim', 'vocabSize', 'maxSeqLen'] as const) {
    if (!Number.isSafeInteger(s[key]) || s[key] <= 0) fail(`${key} must be a positive integer, got ${s[key]}`);
  }
  if (!Number.isSafeInteger(s.seed)) fail(`seed must be an integer, got ${s.seed}`);
  const nKvHeads = s.nKvHeads ?? s.nHeads;
  if (!Number.isSafeInteger(nKvHeads) || nKvHeads <= 0 || s.nHeads % nKvHeads !== 0) {
    fail(`nHeads (${s.nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  }
  const headDim = s.headDim ?? s.dim / s.nHeads;
  if (!Number.isSafeInteger(headDim) || headDim <= 0) fail(`headDim must be a positive integer (dim / nHeads = ${s.dim / s.nHeads})`);
  if (s.family === 'llama') {
    const cls = s.architecture ?? 'LlamaForCausalLM';
    if (!(cls in LLAMA_MODEL_TYPES)) fail(`architecture must be one of ${Object.keys(LLAMA_MODEL_TYPES).join(', ')}, got "${cls}"`);
    if (headDim % 2 !== 0) fail(`headDim must be even for rotary embeddings, got ${headDim}`);
    if (cls === 'Qwen2ForCausalLM' && s.qkvBias === false) fail('Qwen2 always has q/k/v biases; leave qkvBias unset');
    if (cls === 'MistralForCausalLM' && s.qkvBias) fail('Mistral has no attention biases');
    if (cls !== 'LlamaForCausalLM' && s.mlpBias) fail(`${cls} has no mlp_bias option`);
  } else {
    if (s.architecture !== undefined) fail('architecture is a llama-family option (GPT-2 and OPT have one class each)');
    if (nKvHeads !== s.nHeads) fail('grouped-query attention (nKvHeads < nHeads) is llama-family only');
    if (s.ropeScaling !== undefined || s.ropeTheta !== undefined) fail('rotary options are llama-family only');
    if (s.qkvBias !== undefined || s.mlpBias !== undefined) fail('qkvBias/mlpBias are llama-family options (GPT-2 and OPT always have biases)');
    if (headDim * s.nHeads !== s.dim) fail(`headDim must be dim / nHeads = ${s.dim / s.nHeads}`);
  }
  if (s.family === 'gpt2' && s.tied === false) fail('GPT-2 always ties lm_head to wte');
  if (s.family !== 'opt' && (s.optPreNorm !== undefined || s.optProjDim !== undefined)) fail('optPreNorm/optProjDim are OPT options');
  if (s.optProjDim !== undefined && (!Number.isSafeInteger(s.optProjDim) || s.optProjDim <= 0)) {
    fail(`optProjDim must be a positive integer, got ${s.optProjDim}`);
  }
}

// ---- values ------------------------------------------------------------------------------------

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Consecutive runs of tensors of at most `maxBytes` each (a larger tensor gets a run of its own). */
function groupIntoShards(plan: Planned[], elementBytes: number, maxBytes: number): Planned[][] {
  const shards: Planned[][] = [];
  let current: Planned[] = [];
  let bytes = 0;
  for (const t of plan) {
    const size = numel(t.shape) * elementBytes;
    if (current.length > 0 && bytes + size > maxBytes) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += size;
  }
  shards.push(current);
  return shards;
}

function materialize(shard: Planned[], seed: number, dtype: 'F32' | 'BF16' | 'F16'): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  for (const t of shard) out.set(t.name, float32Tensor(dtype, t.shape, values(t, seed)));
  return out;
}

function values(t: Planned, seed: number): Float32Array {
  const data = new Float32Array(numel(t.shape));
  if (t.init === 'causal-mask') {
    const n = t.shape[t.shape.length - 1]!;
    for (let r = 0; r < n; r++) data.fill(1, r * n, r * n + r + 1); // tril(ones)
    return data;
  }
  // Uniform on [mean - a, mean + a] has std a / sqrt(3).
  const {mean, std} = t.init;
  const a = std * Math.sqrt(3);
  // mulberry32, inlined for speed (a 1 GB tensor is 2.7e8 draws).
  let state = tensorSeed(seed, t.name);
  for (let i = 0; i < data.length; i++) {
    state = (state + 0x6d2b79f5) | 0;
    let z = Math.imul(state ^ (state >>> 15), state | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    const u = ((z ^ (z >>> 14)) >>> 0) / 4294967296; // [0, 1)
    data[i] = mean + a * (2 * u - 1);
  }
  return data;
}

/** FNV-1a of the tensor name mixed with both 32-bit halves of the seed. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  const hi = Math.floor(seed / 4294967296) | 0;
  return (h ^ Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca6b)) | 0;
}
