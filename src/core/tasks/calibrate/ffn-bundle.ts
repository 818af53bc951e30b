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
import {readHostMatrix, readHostVector, transpose, type HostMatrix, type WeightSpec} from '../../model/weights.js';
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

function permuteRows<T extends Float32Array | Uint16Array>(data: T, cols: number, perm: Int32Array): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let i = 0; i < perm.length; i++) out.set(data.subarray(perm[i]! * cols, (perm[i]! + 1) * cols), i * cols);
  return out;
}

/** Every tensor of the source checkpoint, FFN tensors permuted and W_out as neuron rows. */
export function relayoutWeights(source: ModelSource, perms: Int32Array[]): Map<string, TensorData> {
  const {checkpoint: ckpt, config} = source;
  const replaced = new Map<string, TensorData>();
  const bySpec = (key: string): WeightSpec | undefined => source.specs.find((s) => s.key === key);
  for (let l = 0; l < config.nLayers; l++) {
    const perm = perms[l]!;
    for (const key of ['wGate', 'wUp']) {
      const spec = bySpec(`layers.${l}.${key}`);
      if (!spec) continue;
      const m = readHostMatrix(ckpt, spec); // [hiddenDim, dim]
      let data = permuteRows(m.data, m.cols, perm);
      if (spec.transpose) data = transpose(data, m.rows, m.cols); // back to the stored [dim, hiddenDim]
      replaced.set(spec.name, {dtype: DTYPE[m.dtype], shape: spec.storedShape, data});
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
    if (down.key.endsWith('.wDown')) m = {...m, rows: m.cols, cols: m.rows, data: transpose(m.data, m.rows, m.cols)};
    replaced.set(down.name, {dtype: DTYPE[m.dtype], shape: [config.hiddenDim, config.dim], data: permuteRows(m.data, m.cols, perm)});
  }
  const out = new Map<string, TensorData>();
  for (const name of ckpt.names()) {
    const r = replaced.get(name);
    if (r) {
      out.set(name, r);
      continue;
    }
    const info = ckpt.info(name);
    out.set(name, {dtype: info.dtype, shape: info.shape, data: ckpt.readBytes(name)});
  }
  return out;
}
