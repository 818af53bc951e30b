/**
 * Why: config.json says how big a model is, and what follows (the list of weights to check, then
 * buffers and caches) is sized from it. A corrupt or hostile config (`num_hidden_layers: 1e8`)
 * must fail with one line before anything is allocated, not abort the process out of memory. So
 * sizes get generous fixed limits when the config is parsed, and the layer count is compared with
 * the layers the checkpoint holds before the weight list is built; every declared shape is then
 * compared with the file (checkSpecs) before a tensor is read.
 */
import {ConfigError} from '../errors.js';
import type {ModelConfig} from './config.js';

type SizeKey = 'nLayers' | 'dim' | 'hiddenDim' | 'headDim' | 'embedDim' | 'nHeads' | 'nKvHeads' | 'vocabSize' | 'maxSeqLen';

/**
 * Largest accepted value of each size, far above released models (about 130 layers, widths of
 * 16k with FFNs of 100k, 128 heads, vocabularies of 256k, contexts of 10M positions).
 */
export const CONFIG_LIMITS: Readonly<Record<SizeKey, number>> = Object.freeze({
  nLayers: 1024,
  dim: 1 << 20,
  hiddenDim: 1 << 20,
  headDim: 1 << 20,
  embedDim: 1 << 20,
  nHeads: 1 << 16,
  nKvHeads: 1 << 16,
  vocabSize: 1 << 24,
  maxSeqLen: 1 << 24,
});

/** The config.json keys each size is read from, across the families, for messages. */
const CONFIG_KEYS: Readonly<Record<SizeKey, string>> = {
  nLayers: 'num_hidden_layers / n_layer',
  dim: 'hidden_size / n_embd',
  hiddenDim: 'intermediate_size / n_inner / ffn_dim',
  headDim: 'head_dim',
  embedDim: 'word_embed_proj_dim',
  nHeads: 'num_attention_heads / n_head',
  nKvHeads: 'num_key_value_heads',
  vocabSize: 'vocab_size',
  maxSeqLen: 'max_position_embeddings / n_positions',
};

/** Throws a ConfigError naming the first size over its limit. */
export function checkConfigLimits(config: ModelConfig, file: string): void {
  for (const key of Object.keys(CONFIG_LIMITS) as SizeKey[]) {
    const value = config[key];
    const max = CONFIG_LIMITS[key];
    if (value > max) {
      throw new ConfigError(
        file,
        `${key} (${CONFIG_KEYS[key]}) is ${value}, over the limit of ${max}; the config is corrupt or describes a model far larger than any hire can run`,
      );
    }
  }
}

/**
 * Distinct layer indices among tensor names: `layers.<i>.` (Llama, OPT) or `h.<i>.` (GPT-2), under
 * any root prefix.
 */
export function layersInCheckpoint(names: Iterable<string>): number {
  const seen = new Set<number>();
  for (const name of names) {
    const m = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(name);
    if (m) seen.add(Number(m[1]));
  }
  return seen.size;
}

/**
 * Throws a ConfigError when the config declares more layers than the checkpoint has tensors for.
 * A checkpoint whose names follow neither pattern is left to the per-tensor check.
 */
export function checkLayerCount(config: ModelConfig, names: Iterable<string>, file: string, weightsFile: string): void {
  const present = layersInCheckpoint(names);
  if (present > 0 && config.nLayers > present) {
    throw new ConfigError(
      file,
      `declares ${config.nLayers} layers (${CONFIG_KEYS.nLayers}), but ${weightsFile} holds tensors for ${present}; the config does not match the weights`,
    );
  }
}
