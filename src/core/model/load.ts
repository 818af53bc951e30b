/**
 * Opening a Hugging Face checkpoint directory: config.json -> typed config and architecture,
 * the safetensors checkpoint with every weight name and shape checked (decode/weights.ts uploads
 * the weights to a backend).
 */
import fs from 'node:fs';
import path from 'node:path';
import {HireTokenizer} from './tokenizer.js';
import {Checkpoint} from './formats/safetensors/index.js';
import {isGgufPath, openGgufModel} from './formats/gguf/index.js';
import {parseModelConfig} from './architectures/index.js';
import type {Architecture} from './architectures/index.js';
import {readConfigJson, type ModelConfig} from './config.js';
import {checkLayerCount} from './config-limits.js';
import {checkSpecs, ffnDownSpecs, type WeightFile, type WeightSpec} from './weights.js';

/** A checked checkpoint whose weights have not been read yet. */
export interface ModelSource {
  dir: string;
  config: ModelConfig;
  arch: Architecture;
  checkpoint: WeightFile;
  specs: WeightSpec[];
  /** Path shown in weight errors (the safetensors file or its index). */
  weightsFile: string;
  /**
   * A source that is not a checkpoint directory (a GGUF file): the Hugging Face files it stands
   * for, by file name (config.json, tokenizer.json, tokenizer_config.json; null when it has none).
   */
  hfFiles?: Readonly<Record<string, Record<string, unknown> | null>>;
}

export interface OpenModelOptions {
  /**
   * Load W_out as [hiddenDim, dim] rows (wDownT), as the sparse FFN needs. Default: true when the
   * checkpoint stores it that way (a bundle with an FFN section), else false.
   */
  ffnNeuronRows?: boolean;
}

/**
 * Parses config.json and checks every weight the architecture needs; reads no tensor data. `dir`
 * may also be a GGUF file (llama family), read as the checkpoint it stands for (formats/gguf).
 */
export function openModel(dir: string, opts: OpenModelOptions = {}): ModelSource {
  if (isGgufPath(dir)) return openGguf(dir, opts);
  const raw = readConfigJson(dir);
  const {arch, config} = parseModelConfig(raw);
  const checkpoint = Checkpoint.open(dir);
  const weightsFile = checkpoint.files.length === 1 ? checkpoint.files[0]! : path.join(dir, 'model.safetensors.index.json');
  try {
    const names = checkpoint.names();
    // Before the weight list is built from nLayers: a config that overstates it fails here.
    checkLayerCount(config, names, raw.file, weightsFile);
    const neuronRows = opts.ffnNeuronRows ?? config.ffnLayout === 'neuron-rows';
    const specs = ffnDownSpecs(arch.weightSpecs(config, new Set(names)), config, neuronRows);
    checkSpecs(specs, checkpoint, weightsFile);
    return {dir, config, arch, checkpoint, specs, weightsFile};
  } catch (error) {
    checkpoint.close();
    throw error;
  }
}

function openGguf(file: string, opts: OpenModelOptions): ModelSource {
  const g = openGgufModel(file);
  try {
    const {arch, config} = parseModelConfig({file, json: g.configJson});
    const names = g.weights.names();
    checkLayerCount(config, names, file, file);
    const neuronRows = opts.ffnNeuronRows ?? false;
    const specs = ffnDownSpecs(arch.weightSpecs(config, new Set(names)), config, neuronRows);
    checkSpecs(specs, g.weights, file);
    const hfFiles = {'config.json': g.configJson, 'tokenizer.json': g.tokenizer.tokenizerJson, 'tokenizer_config.json': g.tokenizer.tokenizerConfig};
    return {dir: file, config, arch, checkpoint: g.weights, specs, weightsFile: file, hfFiles};
  } catch (error) {
    g.file.close();
    throw error;
  }
}

/** Parameter count of the model as the architecture uses it (tied matrices counted once). */
export function parameterCount(source: ModelSource): number {
  const seen = new Set<string>();
  let count = 0;
  for (const s of source.specs) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    count += s.storedShape.reduce((a, b) => a * b, 1);
  }
  return count;
}

/**
 * The tokenizer of an opened model: 'required' fails without one, 'optional' loads it when there
 * is one, 'none' skips it. A directory's tokenizer.json, or the one a GGUF file's metadata holds.
 */
export function openTokenizer(source: Pick<ModelSource, 'dir' | 'hfFiles'>, mode: 'required' | 'optional' | 'none'): HireTokenizer | null {
  if (mode === 'none') return null;
  const files = source.hfFiles;
  if (files) {
    const json = files['tokenizer.json'];
    if (!json) return mode === 'required' ? HireTokenizer.load(source.dir) : null;
    return HireTokenizer.fromObjects(source.dir, json, files['tokenizer_config.json'] ?? {}, files['config.json'] ?? null);
  }
  const has = fs.existsSync(path.join(source.dir, 'tokenizer.json'));
  return mode === 'required' || has ? HireTokenizer.load(source.dir) : null;
}
