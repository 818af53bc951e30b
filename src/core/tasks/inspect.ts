/**
 * What `hire inspect` reports about a checkpoint, computed from the header and config alone
 * (no tensor data is read).
 */
import {DTYPE_BYTES, type Dtype} from '../model/formats/safetensors/index.js';
import type {ModelConfig} from '../model/config.js';
import {parameterCount, type ModelSource} from '../model/load.js';
import {blockFormatOf, canonicalShape, type BlockFormat} from '../model/weights.js';
import {blockRowBytes} from '../numeric/ggml-quant.js';

export interface TensorRow {
  name: string;
  /** The safetensors dtype, or the ggml block format of a block tensor (q8_0, q4_0). */
  dtype: Dtype | BlockFormat;
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
  /** Bytes of tensor data in the checkpoint files, by dtype (block tensors by their format). */
  bytesByDtype: Partial<Record<Dtype | BlockFormat, number>>;
  /** Weight bytes one dense decode step reads (each matrix once, one row of each embedding). */
  weightBytesPerToken: number;
  files: string[];
  tensors: TensorRow[];
}

export function inspectModel(source: ModelSource): ModelReport {
  const ckpt = source.checkpoint;
  const usedAs = new Map<string, string[]>();
  for (const s of source.specs) usedAs.set(s.name, [...(usedAs.get(s.name) ?? []), s.key]);
  const bytesByDtype: Partial<Record<Dtype | BlockFormat, number>> = {};
  const tensors: TensorRow[] = ckpt.names().map((name) => {
    const info = ckpt.info(name);
    const dtype = blockFormatOf(ckpt, name) ?? info.dtype;
    bytesByDtype[dtype] = (bytesByDtype[dtype] ?? 0) + info.byteLength;
    return {name, dtype, shape: info.shape, bytes: info.byteLength, usedAs: usedAs.get(name) ?? []};
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
    const blocks = blockFormatOf(checkpoint, s.name);
    const width = dtype === 'F64' ? 4 : DTYPE_BYTES[dtype];
    // Rows of the matrix as we hold it ([out, in]); a slice keeps part of a fused tensor.
    const [rows, cols] = canonicalShape(s);
    const keptRows = s.slice ? s.slice[1] - s.slice[0] : rows;
    // a block matrix: its real block bytes (W_out read transposed is Q8_0, see weights.ts)
    const rowBytes = blocks ? blockRowBytes(s.blockTranspose ? 'q8_0' : blocks, cols) : (elements(s.storedShape) / rows) * width;
    const matrixBytes = rowBytes * keptRows;
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
