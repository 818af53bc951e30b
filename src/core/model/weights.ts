/**
 * Weight import: every architecture describes where each of our canonical weights lives in its
 * Hugging Face checkpoint (name, stored shape, whether it is stored transposed, which rows of a
 * fused tensor it is). The loader checks every name and shape before reading a byte; tensors are
 * then read one at a time (decode/weights.ts uploads each to the backend as it is read, so a
 * checkpoint is never held twice in memory).
 */
import {WeightError} from '../errors.js';
import type {TensorInfo} from './formats/safetensors/index.js';
import {halfToFloat32, toFloat32} from './formats/safetensors/index.js';
import type {ModelConfig} from './config.js';
import {blockRowBytes, dequantizeBlocks, isBlockFormat, quantizeBlocks, BLOCK_SIZE, type BlockFormat} from '../numeric/ggml-quant.js';

export type {BlockFormat} from '../numeric/ggml-quant.js';

/** Element type of a dense weight matrix at its stored width. */
export type WeightDtype = 'f32' | 'f16' | 'bf16';

/** A row-major matrix in host memory, `[rows, cols]`; f16/bf16 keep their 16-bit patterns. */
export interface DenseHostMatrix {
  dtype: WeightDtype;
  rows: number;
  cols: number;
  data: Float32Array | Uint16Array;
}

/** A matrix in ggml blocks (numeric/ggml-quant.ts): each row is cols / 32 blocks, rows * blockRowBytes bytes. */
export interface BlockHostMatrix {
  dtype: BlockFormat;
  rows: number;
  cols: number;
  data: Uint8Array;
}

export type HostMatrix = DenseHostMatrix | BlockHostMatrix;

export function isBlockMatrix(m: HostMatrix): m is BlockHostMatrix {
  return isBlockFormat(m.dtype);
}

/** The float32 values of any host matrix (block and half formats converted exactly). */
export function hostMatrixF32(m: HostMatrix): Float32Array {
  if (isBlockMatrix(m)) return dequantizeBlocks(m.dtype, m.data, m.rows, m.cols);
  return m.dtype === 'f32' ? (m.data as Float32Array) : halfToFloat32(m.dtype === 'f16' ? 'F16' : 'BF16', m.data as Uint16Array);
}

/** Bytes a host matrix's data occupies (what a backend reads per full pass over it). */
export function hostMatrixBytes(m: HostMatrix): number {
  if (isBlockMatrix(m)) return m.rows * blockRowBytes(m.dtype, m.cols);
  return m.rows * m.cols * (m.dtype === 'f32' ? 4 : 2);
}

/**
 * What loading needs of a weight file: a safetensors Checkpoint, or a GGUF file seen through
 * Hugging Face tensor names (formats/gguf). A matrix held in ggml blocks is a U8 tensor of shape
 * [rows, blockRowBytes] in the orientation the decoder uses ([out, in]: never transposed), listed
 * with its format in the `hire_blocks` metadata of the file that holds it.
 */
export interface WeightFile {
  readonly path: string;
  readonly files: string[];
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  readBytes(name: string, into?: Uint8Array): Uint8Array;
  readFloat32(name: string): Float32Array;
  /** Metadata of the file that holds `name` (safetensors `__metadata__`). */
  fileMetadata(name: string): Readonly<Record<string, string>>;
  close(): void;
}

/** Metadata key listing the block tensors of a file: JSON {tensorName: "q8_0" | "q4_0"}. */
export const BLOCKS_METADATA_KEY = 'hire_blocks';

/** The file metadata naming a file's block tensors ({} when it has none). */
export function blocksMetadata(blocks: Readonly<Record<string, BlockFormat>>): Record<string, string> {
  return Object.keys(blocks).length ? {[BLOCKS_METADATA_KEY]: JSON.stringify(blocks)} : {};
}

const parsedBlocks = new WeakMap<object, Map<string, BlockFormat>>();

/** The ggml block format of tensor `name`, or null when it is a plain float tensor. */
export function blockFormatOf(ckpt: WeightFile, name: string): BlockFormat | null {
  const meta = ckpt.fileMetadata(name);
  let map = parsedBlocks.get(meta);
  if (!map) {
    map = parseBlocksMetadata(meta, ckpt.info(name).file);
    parsedBlocks.set(meta, map);
  }
  return map.get(name) ?? null;
}

function parseBlocksMetadata(meta: Readonly<Record<string, string>>, file: string): Map<string, BlockFormat> {
  const raw = meta[BLOCKS_METADATA_KEY];
  const map = new Map<string, BlockFormat>();
  if (raw === undefined) return map;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new WeightError(file, `metadata "${BLOCKS_METADATA_KEY}" is not JSON; expected {"tensor name": "q8_0" | "q4_0", ...}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new WeightError(file, `metadata "${BLOCKS_METADATA_KEY}" must be a JSON object of tensor name -> block format`);
  }
  for (const [name, format] of Object.entries(json as Record<string, unknown>)) {
    if (!isBlockFormat(format)) {
      throw new WeightError(file, `metadata "${BLOCKS_METADATA_KEY}" gives tensor "${name}" the unknown block format ${JSON.stringify(format)}; known: q8_0, q4_0`);
    }
    map.set(name, format);
  }
  return map;
}

/** [rows, cols] of a matrix spec as the decoder holds it (after any transpose, before any slice). */
export function canonicalShape(spec: WeightSpec): [number, number] {
  const a = spec.storedShape[0]!;
  const b = spec.storedShape.length > 1 ? spec.storedShape.slice(1).reduce((x, y) => x * y, 1) : 1;
  return spec.transpose ? [b, a] : [a, b];
}

/** [rows, cols] of the matrix a block tensor holds for this spec ([out, in] of its layer). */
function blockStoredShape(spec: WeightSpec): [number, number] {
  const [rows, cols] = canonicalShape(spec);
  return spec.blockTranspose ? [cols, rows] : [rows, cols];
}

/**
 * The transpose of a block matrix, re-quantised to Q8_0 along its new rows (a second rounding of
 * at most half a Q8_0 step per weight, whatever the source format: Q8_0 keeps a Q4_0 matrix's
 * values far better than a second Q4_0 would). Used only for W_out when the decoder wants it the
 * other way round from the file (HiRE-FFN's neuron rows from a standard checkpoint).
 */
export function transposeBlocks(m: BlockHostMatrix): BlockHostMatrix {
  const t = transpose(dequantizeBlocks(m.dtype, m.data, m.rows, m.cols), m.rows, m.cols);
  return {dtype: 'q8_0', rows: m.cols, cols: m.rows, data: quantizeBlocks('q8_0', t, m.cols, m.rows)};
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
  /**
   * A tensor in ggml blocks is stored as [out, in] of its layer whatever `transpose` says; set when
   * the decoder wants it the other way round (W_out as neuron rows from a standard file, or back).
   */
  blockTranspose?: boolean;
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
    const blockTranspose = neuronRows !== (config.ffnLayout === 'neuron-rows');
    return neuronRows ? {...s, key: `${s.key}T`, storedShape, transpose: !transpose, blockTranspose} : {...s, storedShape, transpose, blockTranspose};
  });
}

/** Checks every spec against the checkpoint; throws naming the first problem. */
export function checkSpecs(specs: WeightSpec[], ckpt: WeightFile, file: string): void {
  for (const spec of specs) {
    if (!ckpt.has(spec.name)) {
      throw new WeightError(file, `missing tensor "${spec.name}" (needed for ${spec.key})`);
    }
    const info = ckpt.info(spec.name);
    const format = blockFormatOf(ckpt, spec.name);
    if (format !== null) {
      checkBlockSpec(spec, info, format, file);
      continue;
    }
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

function checkBlockSpec(spec: WeightSpec, info: TensorInfo, format: BlockFormat, file: string): void {
  const [rows, cols] = blockStoredShape(spec);
  if (spec.kind !== 'matrix') {
    throw new WeightError(file, `tensor "${spec.name}" is stored in ${format} blocks, but ${spec.key} is a vector; vectors must be F32, F16 or BF16`);
  }
  if (cols % BLOCK_SIZE !== 0) {
    throw new WeightError(file, `tensor "${spec.name}" is stored in ${format} blocks, but its rows of ${cols} weights are not a whole number of ${BLOCK_SIZE}-weight blocks`);
  }
  const expected = [rows, blockRowBytes(format, cols)];
  if (info.dtype !== 'U8' || !sameShape(info.shape, expected)) {
    throw new WeightError(
      file,
      `tensor "${spec.name}" (${format} blocks of [${rows}, ${cols}]) is ${info.dtype} [${info.shape.join(', ')}], expected U8 [${expected.join(', ')}]`,
    );
  }
}

/** Reads one matrix spec into host memory, keeping 16-bit dtypes at their width and blocks as blocks. */
export function readHostMatrix(ckpt: WeightFile, spec: WeightSpec): HostMatrix {
  const format = blockFormatOf(ckpt, spec.name);
  if (format !== null) {
    const [rows, cols] = blockStoredShape(spec);
    const rowBytes = blockRowBytes(format, cols);
    let data = ckpt.readBytes(spec.name);
    if (spec.blockTranspose) return transposeBlocks({dtype: format, rows, cols, data});
    let n = rows;
    if (spec.slice) {
      const [start, end] = spec.slice;
      data = data.slice(start * rowBytes, end * rowBytes);
      n = end - start;
    }
    return {dtype: format, rows: n, cols, data};
  }
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
export function readHostVector(ckpt: WeightFile, spec: WeightSpec): Float32Array {
  const info = ckpt.info(spec.name);
  const {dtype, data} = readTensor(ckpt, info);
  let values = dtype === 'f32' ? (data as Float32Array) : halfToFloat32(dtype === 'f16' ? 'F16' : 'BF16', data as Uint16Array);
  if (spec.slice) values = values.slice(spec.slice[0], spec.slice[1]);
  return values;
}

function readTensor(ckpt: WeightFile, info: TensorInfo): {dtype: WeightDtype; data: Float32Array | Uint16Array} {
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
