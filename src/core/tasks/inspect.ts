/**
 * What `hire inspect` reports about a checkpoint, computed from the header and config alone
 * (no tensor data is read).
 */
import {DTYPE_BYTES, type Dtype} from '../model/formats/safetensors/index.js';
import type {ModelConfig} from '../model/config.js';
import {parameterCount, type ModelSource} from '../model/load.js';

export interface TensorRow {
  name: string;
  dtype: Dtype;
  shape: number[];
  bytes: number;
  /** Canonical weights this tensor feeds, e.g. ["layers.0.wq"]; empty when the model ignores it. */
  usedAs: string[];
}

export interface ModelReport {
  dir: string;
  family: ModelConfig['family'];
  architecture: string;
  config: ModelConfig;
  parameters: number;
  /** Bytes of tensor data in the checkpoint files, by dtype. */
  bytesByDtype: Partial<Record<Dtype, number>>;
  /** Weight bytes one dense decode step reads (each matrix once, one row of each embedding). */
  weightBytesPerToken: number;
  files: string[];
  tensors: TensorRow[];
}

export function inspectModel(source: ModelSource): ModelReport {
  const ckpt = source.checkpoint;
  const usedAs = new Map<string, string[]>();
  for (const s of source.specs) usedAs.set(s.name, [...(usedAs.get(s.name) ?? []), s.key]);
  const bytesByDtype: Partial<Record<Dtype, number>> = {};
  const tensors: TensorRow[] = ckpt.names().map((name) => {
    const info = ckpt.info(name);
    bytesByDtype[info.dtype] = (bytesByDtype[info.dtype] ?? 0) + info.byteLength;
    return {name, dtype: info.dtype, shape: info.shape, bytes: info.byteLength, usedAs: usedAs.get(name) ?? []};
  });
  return {
    dir: source.dir,
    family: source.config.family,
    architecture: source.config.architecture,
    config: source.config,
    parameters: parameterCount(source),
    bytesByDtype,
    weightBytesPerToken: weightBytesPerToken(source),
    files: ckpt.files,
    tensors,
  };
}

/** Bytes read per decoded token, at the width the backends keep (F64 is held as f32). */
export function weightBytesPerToken(source: ModelSource): number {
  const {config: c, checkpoint} = source;
  let bytes = 0;
  for (const s of source.specs) {
    if (s.kind !== 'matrix') continue;
    const dtype = checkpoint.info(s.name).dtype;
    const width = dtype === 'F64' ? 4 : DTYPE_BYTES[dtype];
    // Rows of the matrix as we hold it ([out, in]); a slice keeps part of a fused tensor.
    const rows = s.transpose ? s.storedShape[1]! : s.storedShape[0]!;
    const keptRows = s.slice ? s.slice[1] - s.slice[0] : rows;
    const matrixBytes = (elements(s.storedShape) / rows) * keptRows * width;
    if (s.key === 'embed') {
      bytes += matrixBytes / rows; // one row looked up
      if (c.tiedEmbeddings) bytes += matrixBytes; // and the whole table as the output layer
    } else if (s.key === 'positions') {
      bytes += matrixBytes / rows; // one row looked up
    } else {
      bytes += matrixBytes;
    }
  }
  return bytes;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
