/**
 * Weight import: every architecture describes where each of our canonical weights lives in its
 * Hugging Face checkpoint (name, stored shape, whether it is stored transposed, which rows of a
 * fused tensor it is). The loader checks every name and shape before reading a byte; tensors are
 * then read one at a time (decode/weights.ts uploads each to the backend as it is read, so a
 * checkpoint is never held twice in memory).
 */
import {WeightError} from '../errors.js';
import type {Checkpoint, TensorInfo} from './formats/safetensors/index.js';
import {halfToFloat32, toFloat32} from './formats/safetensors/index.js';
import type {ModelConfig} from './config.js';

/** Element type of a weight matrix at its stored width. */
export type WeightDtype = 'f32' | 'f16' | 'bf16';

/** A row-major matrix in host memory, `[rows, cols]`; f16/bf16 keep their 16-bit patterns. */
export interface HostMatrix {
  dtype: WeightDtype;
  rows: number;
  cols: number;
  data: Float32Array | Uint16Array;
}

/** Where one canonical weight comes from. */
export interface WeightSpec {
  /** Canonical name, e.g. `layers.3.wq`, `embed`, `finalNorm.weight`. */
  key: string;
  /** Tensor name in the checkpoint. */
  name: string;
  kind: 'matrix' | 'vector';
  /** Shape as stored in the checkpoint. */
  storedShape: number[];
  /** Stored as [in, out] (GPT-2 Conv1D): transpose to our [out, in]. */
  transpose?: boolean;
  /** Take rows [start, end) after any transpose (fused q/k/v), or elements for a vector. */
  slice?: [number, number];
}

/**
 * The W_out specs rewritten for how the file stores W_out (config.ffnLayout) and for the layout
 * the decode wants: with `neuronRows` W_out is loaded as wDownT [hiddenDim, dim], one contiguous
 * row per neuron (the sparse FFN gathers rows of it), else as wDown [dim, hiddenDim].
 */
export function ffnDownSpecs(specs: WeightSpec[], config: ModelConfig, neuronRows: boolean): WeightSpec[] {
  return specs.map((s) => {
    if (!s.key.endsWith('.wDown')) return s;
    // `transpose` turns the stored tensor into [dim, hiddenDim]
    let storedShape = s.storedShape;
    let transpose = Boolean(s.transpose);
    if (config.ffnLayout === 'neuron-rows') {
      storedShape = [config.hiddenDim, config.dim];
      transpose = true;
    }
    return neuronRows ? {...s, key: `${s.key}T`, storedShape, transpose: !transpose} : {...s, storedShape, transpose};
  });
}

/** Checks every spec against the checkpoint; throws naming the first problem. */
export function checkSpecs(specs: WeightSpec[], ckpt: Checkpoint, file: string): void {
  for (const spec of specs) {
    if (!ckpt.has(spec.name)) {
      throw new WeightError(file, `missing tensor "${spec.name}" (needed for ${spec.key})`);
    }
    const info = ckpt.info(spec.name);
    if (!sameShape(info.shape, spec.storedShape)) {
      throw new WeightError(
        file,
        `tensor "${spec.name}" has shape [${info.shape.join(', ')}], expected [${spec.storedShape.join(', ')}]`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      throw new WeightError(file, `tensor "${spec.name}" has dtype ${info.dtype}; weights must be F32, F16, BF16 or F64`);
    }
  }
}

/** Reads one matrix spec into host memory, keeping 16-bit dtypes at their width. */
export function readHostMatrix(ckpt: Checkpoint, spec: WeightSpec): HostMatrix {
  const info = ckpt.info(spec.name);
  let rows = spec.storedShape[0]!;
  let cols = spec.storedShape.length > 1 ? spec.storedShape.slice(1).reduce((a, b) => a * b, 1) : 1;
  let {dtype, data} = readTensor(ckpt, info);
  if (spec.transpose) {
    data = transpose(data, rows, cols);
    [rows, cols] = [cols, rows];
  }
  if (spec.slice) {
    const [start, end] = spec.slice;
    data = data.slice(start * cols, end * cols);
    rows = end - start;
  }
  return {dtype, rows, cols, data};
}

/** Reads one vector spec as f32. */
export function readHostVector(ckpt: Checkpoint, spec: WeightSpec): Float32Array {
  const info = ckpt.info(spec.name);
  const {dtype, data} = readTensor(ckpt, info);
  let values = dtype === 'f32' ? (data as Float32Array) : halfToFloat32(dtype === 'f16' ? 'F16' : 'BF16', data as Uint16Array);
  if (spec.slice) values = values.slice(spec.slice[0], spec.slice[1]);
  return values;
}

function readTensor(ckpt: Checkpoint, info: TensorInfo): {dtype: WeightDtype; data: Float32Array | Uint16Array} {
  const bytes = ckpt.readBytes(info.name);
  switch (info.dtype) {
    case 'F32':
      return {dtype: 'f32', data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)};
    case 'F16':
    case 'BF16':
      return {
        dtype: info.dtype === 'F16' ? 'f16' : 'bf16',
        data: new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2),
      };
    default:
      return {dtype: 'f32', data: toFloat32(info.dtype, bytes)};
  }
}

export function transpose<T extends Float32Array | Uint16Array>(src: T, rows: number, cols: number): T {
  const dst = new (src.constructor as new (n: number) => T)(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[base + c]!;
  }
  return dst;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Helpers architectures use to write their spec lists compactly. */
export const spec = {
  matrix(key: string, name: string, storedShape: number[], extra?: Partial<WeightSpec>): WeightSpec {
    return {key, name, kind: 'matrix', storedShape, ...extra};
  },
  vector(key: string, name: string, length: number, extra?: Partial<WeightSpec>): WeightSpec {
    return {key, name, kind: 'vector', storedShape: [length], ...extra};
  },
};
