/**
 * Opening a Hugging Face checkpoint directory: config.json -> typed config and architecture,
 * the safetensors checkpoint with every weight name and shape checked (decode/weights.ts uploads
 * the weights to a backend).
 */
import path from 'node:path';
import {Checkpoint} from './formats/safetensors/index.js';
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

/** Parses config.json and checks every weight the architecture needs; reads no tensor data. */
export function openModel(dir: string, opts: OpenModelOptions = {}): ModelSource {
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
