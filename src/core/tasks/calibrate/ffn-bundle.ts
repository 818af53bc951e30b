/**
 * Writing the FFN part of a HiRE bundle (the reading side is hire/bundle/ffn-section.ts):
 * - model.safetensors re-laid-out: each layer's neurons permuted (rows of W_gate / W_up and their
 *   biases, rows of W_out^T), W_out stored as neuron rows [hiddenDim, dim]; config.json gains
 *   `"hire_ffn_layout": "neuron-rows"` so the ordinary loader reads it. Every other tensor is
 *   copied byte for byte. The permutation is exact: dense outputs do not change.
 * - hire.safetensors: one predictor per layer under `ffn.<layer>.<name>`.
 * - hire.json `ffn`: group size, score, top-k, static sets, k'_g per recall target, recall curves.
 */
import type {ModelSource} from '../../model/load.js';
import {blockFormatOf, blocksMetadata, isBlockMatrix, readHostMatrix, readHostVector, transpose, transposeBlocks, type BlockFormat, type HostMatrix, type WeightSpec} from '../../model/weights.js';
import {blockRowBytes} from '../../numeric/ggml-quant.js';
import type {TensorData} from '../../model/formats/safetensors/index.js';
import type {FfnManifest} from '../../hire/bundle/ffn-section.js';
import {predictorTensors} from '../../hire/predictor/predictor.js';
import type {FfnCalibration} from './ffn-calibrate.js';

export function ffnManifest(cal: FfnCalibration, recallTargets: number[], selectTarget: number): FfnManifest {
  const {groupSize, score, topK, staticThreshold, permuted, records} = cal;
  return {layout: 'neuron-rows', groupSize, score, topK, staticThreshold, permuted, recallTargets, selectTarget, layers: records};
}

export function ffnPredictorTensors(cal: FfnCalibration): Map<string, TensorData> {
  const out = new Map<string, TensorData>();
  cal.predictors.forEach((p, l) => {
    for (const [k, v] of predictorTensors(p, `ffn.${l}`)) out.set(k, v);
  });
  return out;
}

const DTYPE = {f32: 'F32', f16: 'F16', bf16: 'BF16'} as const;

function permuteRows<T extends Float32Array | Uint16Array | Uint8Array>(data: T, width: number, perm: Int32Array): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let i = 0; i < perm.length; i++) out.set(data.subarray(perm[i]! * width, (perm[i]! + 1) * width), i * width);
  return out;
}

/** The re-laid-out weights and which of them are ggml block tensors (for the file's hire_blocks metadata). */
export interface RelaidWeights {
  tensors: Map<string, TensorData>;
  blocks: Record<string, BlockFormat>;
}

/** What writeBundle takes for re-laid-out weights: the tensors and their file's metadata. */
export function relaidFiles(r: RelaidWeights): {weights: Map<string, TensorData>; weightsMetadata: Record<string, string>} {
  return {weights: r.tensors, weightsMetadata: blocksMetadata(r.blocks)};
}

/**
 * Every tensor of the source checkpoint, FFN tensors permuted and W_out as neuron rows. Block
 * matrices keep their blocks (rows permute exactly); a block W_out stored [dim, hiddenDim] is
 * re-quantised as neuron rows in Q8_0 (model/weights.ts transposeBlocks).
 */
export function relayoutWeights(source: ModelSource, perms: Int32Array[]): RelaidWeights {
  const {checkpoint: ckpt, config} = source;
  const replaced = new Map<string, TensorData>();
  const blocks: Record<string, BlockFormat> = {};
  const bySpec = (key: string): WeightSpec | undefined => source.specs.find((s) => s.key === key);
  /** Rows of m permuted, as the tensor the file stores (dense: in the spec's stored orientation). */
  const permuted = (m: HostMatrix, spec: WeightSpec, perm: Int32Array, shape: number[]): TensorData => {
    if (isBlockMatrix(m)) {
      const width = blockRowBytes(m.dtype, m.cols);
      blocks[spec.name] = m.dtype;
      return {dtype: 'U8', shape: [m.rows, width], data: permuteRows(m.data, width, perm)};
    }
    let data = permuteRows(m.data, m.cols, perm);
    if (spec.transpose && shape === spec.storedShape) data = transpose(data, m.rows, m.cols); // back to the stored layout
    return {dtype: DTYPE[m.dtype], shape, data};
  };
  for (let l = 0; l < config.nLayers; l++) {
    const perm = perms[l]!;
    for (const key of ['wGate', 'wUp']) {
      const spec = bySpec(`layers.${l}.${key}`);
      if (spec) replaced.set(spec.name, permuted(readHostMatrix(ckpt, spec), spec, perm, spec.storedShape)); // [hiddenDim, dim]
    }
    for (const key of ['bGate', 'bUp']) {
      const spec = bySpec(`layers.${l}.${key}`);
      if (!spec) continue;
      const v = readHostVector(ckpt, spec);
      const out = new Float32Array(v.length);
      for (let i = 0; i < perm.length; i++) out[i] = v[perm[i]!]!;
      replaced.set(spec.name, {dtype: 'F32', shape: [v.length], data: out});
    }
    const down = bySpec(`layers.${l}.wDownT`) ?? bySpec(`layers.${l}.wDown`)!;
    let m: HostMatrix = readHostMatrix(ckpt, down);
    if (down.key.endsWith('.wDown')) {
      m = isBlockMatrix(m) ? transposeBlocks(m) : {...m, rows: m.cols, cols: m.rows, data: transpose(m.data, m.rows, m.cols)};
    }
    replaced.set(down.name, permuted(m, {...down, transpose: false}, perm, [config.hiddenDim, config.dim]));
  }
  return copyWeights(source, replaced, blocks);
}

/** Every tensor of the source (those in `replaced` replaced), and which are block tensors. */
export function copyWeights(source: ModelSource, replaced = new Map<string, TensorData>(), blocks: Record<string, BlockFormat> = {}): RelaidWeights {
  const ckpt = source.checkpoint;
  const tensors = new Map<string, TensorData>();
  for (const name of ckpt.names()) {
    const r = replaced.get(name);
    if (r) {
      tensors.set(name, r);
      continue;
    }
    const info = ckpt.info(name);
    const format = blockFormatOf(ckpt, name);
    if (format) blocks[name] = format;
    tensors.set(name, {dtype: info.dtype, shape: info.shape, data: ckpt.readBytes(name)});
  }
  return {tensors, blocks};
}
