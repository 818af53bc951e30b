/**
 * Writing a trained model as a Hugging Face LlamaForCausalLM directory: config.json,
 * model.safetensors (F32), generation_config.json, the tokenizer files, and any extra files (the
 * training log). The directory appears all at once: everything is written to a sibling temporary
 * directory that is then renamed into place (an existing directory is replaced).
 *
 * config.json extra key: `hire_ffn_topk` (number in (0, 1]) is the share of FFN hidden activations
 * the model was trained to keep: per token, k = max(1, round(hire_ffn_topk * intermediate_size))
 * entries of relu(gate x) * (up x) with the largest magnitude, the rest zeroed before down_proj.
 * hire's decoder applies it; other Llama implementations ignore the key and run the FFN dense,
 * which is a different (untrained) function for a top-k model. It is absent for dense models.
 */
import {randomBytes} from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {IoError} from '../../errors.js';
import {writeSafetensors, type TensorData} from '../../model/formats/safetensors/index.js';
import type {ModelShape} from './model.js';

export interface SpecialIds {
  bosTokenId: number;
  eosTokenId: number;
}

/** The config.json object for a trained model of `shape`. */
export function llamaConfig(shape: ModelShape, special: SpecialIds): Record<string, unknown> {
  const config: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: shape.dim,
    intermediate_size: shape.hiddenDim,
    num_hidden_layers: shape.nLayers,
    num_attention_heads: shape.nHeads,
    num_key_value_heads: shape.nHeads,
    head_dim: shape.dim / shape.nHeads,
    vocab_size: shape.vocabSize,
    max_position_embeddings: shape.contextLength,
    rms_norm_eps: shape.normEps,
    rope_theta: shape.ropeTheta,
    rope_scaling: null,
    hidden_act: 'relu',
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    tie_word_embeddings: true,
    initializer_range: 0.02,
    bos_token_id: special.bosTokenId,
    eos_token_id: special.eosTokenId,
    torch_dtype: 'float32',
    use_cache: true,
  };
  if (shape.ffnTopK !== null) config.hire_ffn_topk = shape.ffnTopK;
  return config;
}

export interface ModelFiles {
  shape: ModelShape;
  special: SpecialIds;
  /** Parameters by HF tensor name, in file order. */
  params: Map<string, {shape: number[]; data: Float32Array}>;
  /** Folder holding tokenizer.json and tokenizer_config.json to copy in. */
  tokenizerDir: string;
  /** More files to write, by name (e.g. the training log). */
  extra?: Record<string, string>;
}

/** Writes the model directory `dir` atomically (temporary sibling, then rename). */
export function writeModelDir(dir: string, files: ModelFiles): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, {recursive: true});
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${tag}`);
  const old = path.join(parent, `.${path.basename(dir)}.old-${tag}`);
  try {
    fs.mkdirSync(tmp);
    const json = (name: string, value: unknown) => fs.writeFileSync(path.join(tmp, name), `${JSON.stringify(value, null, 2)}\n`);
    json('config.json', llamaConfig(files.shape, files.special));
    json('generation_config.json', {bos_token_id: files.special.bosTokenId, eos_token_id: files.special.eosTokenId});
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
      fs.copyFileSync(path.join(files.tokenizerDir, name), path.join(tmp, name));
    }
    const tensors = new Map<string, TensorData>();
    for (const [name, t] of files.params) tensors.set(name, {dtype: 'F32', shape: t.shape, data: t.data});
    writeSafetensors(path.join(tmp, 'model.safetensors'), tensors, {format: 'pt'});
    for (const [name, text] of Object.entries(files.extra ?? {})) fs.writeFileSync(path.join(tmp, name), text);
    const existed = fs.existsSync(dir);
    if (existed) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (existed) fs.rmSync(old, {recursive: true, force: true});
  } catch (cause) {
    fs.rmSync(tmp, {recursive: true, force: true});
    if (fs.existsSync(old) && !fs.existsSync(dir)) fs.renameSync(old, dir);
    throw new IoError(dir, `cannot write the model directory: ${(cause as Error).message}`, {cause});
  }
}
