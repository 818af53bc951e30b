/**
 * Parsing and validation of a safetensors header, as pure functions over bytes.
 *
 * File layout: `u64 N` (little-endian) | `N` bytes of UTF-8 JSON | data section.
 * The JSON maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the start of the data section) plus an optional `__metadata__` string map.
 *
 * We reject anything that could make a later read wrong: unknown dtypes, sizes that disagree
 * with shapes, offsets outside the data section and overlapping tensors. We accept gaps between
 * tensors and trailing bytes, which are harmless (the reference implementation rejects them).
 */

import {SafetensorsError} from '../../../errors.js';
import {parseJson} from '../../../io/read-file.js';
import {DTYPE_BYTES, DTYPES, isDtype, type Dtype} from './dtypes.js';

/** Largest header we parse, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes of the little-endian u64 header length that starts every file. */
export const HEADER_LENGTH_BYTES = 8;

export const METADATA_KEY = '__metadata__';

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** The file holding the tensor, as given to `open`. */
  file: string;
  /** Absolute offset of the tensor's first byte in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface ParsedHeader {
  /** Tensors in header order. */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** Absolute offset where the data section starts (8 + header length). */
  dataStart: number;
}

/**
 * Reads the header length from the first 8 bytes and checks it against the limit and the file
 * size. `fileSize` is the whole file's size in bytes.
 */
export function checkHeaderLength(file: string, first8: Uint8Array, fileSize: number): number {
  if (fileSize < HEADER_LENGTH_BYTES) {
    throw new SafetensorsError(
      file,
      `file is ${fileSize} bytes, too short to hold the 8-byte header length (truncated or not a safetensors file)`,
    );
  }
  const n = new DataView(first8.buffer, first8.byteOffset, HEADER_LENGTH_BYTES).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      file,
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or a corrupt one)`,
    );
  }
  const length = Number(n);
  if (HEADER_LENGTH_BYTES + length > fileSize) {
    throw new SafetensorsError(
      file,
      `header length ${length} runs past the end of the file (${fileSize} bytes); the file is truncated or not a safetensors file`,
    );
  }
  return length;
}

/** Parses and validates the header JSON. `fileSize` bounds the data section. */
export function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): ParsedHeader {
  const dataStart = HEADER_LENGTH_BYTES + headerBytes.byteLength;
  const dataSize = fileSize - dataStart;
  const root = decodeJson(file, headerBytes);
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(root)) {
    if (name === METADATA_KEY) metadata = parseMetadata(file, entry);
    else tensors.push(parseTensorEntry(file, name, entry, dataStart, dataSize));
  }
  checkNoOverlap(file, tensors, dataStart);
  return {tensors, metadata, dataStart};
}

function decodeJson(file: string, headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  // Errors name a position only; nesting is capped before anything walks the value.
  const root = parseJson(text, (problem) => new SafetensorsError(file, `header: ${problem}`));
  if (!isPlainObject(root)) {
    throw new SafetensorsError(file, `header must be a JSON object, found ${describeJson(root)}`);
  }
  return root;
}

function parseMetadata(file: string, entry: unknown): Record<string, string> {
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(file, `${METADATA_KEY} must be an object of strings, found ${describeJson(entry)}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        file,
        `${METADATA_KEY} must map strings to strings, but key ${JSON.stringify(key)} holds ${describeJson(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}

function parseTensorEntry(
  file: string,
  name: string,
  entry: unknown,
  dataStart: number,
  dataSize: number,
): TensorInfo {
  const where = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(entry)) {
    throw new SafetensorsError(file, `${where} must be an object with dtype, shape and data_offsets, found ${describeJson(entry)}`);
  }
  const {dtype, shape, data_offsets: offsets} = entry;
  if (!isDtype(dtype)) {
    const shown = typeof dtype === 'string' ? JSON.stringify(dtype) : describeJson(dtype);
    throw new SafetensorsError(file, `${where} has unknown dtype ${shown} (supported: ${DTYPES.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(file, `${where} shape must be a list of non-negative integers, found ${describeJson(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new SafetensorsError(
      file,
      `${where} data_offsets must be two non-negative integers [begin, end], found ${describeJson(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  const shown = `data_offsets [${begin}, ${end}]`;
  if (begin > end) throw new SafetensorsError(file, `${where} ${shown} end before they begin`);
  if (end > dataSize) {
    throw new SafetensorsError(file, `${where} ${shown} run past the end of the data section (${dataSize} bytes)`);
  }
  const needed = shapeBytes(shape as number[], dtype);
  if (needed !== end - begin) {
    const size = needed === undefined ? 'more bytes than can be addressed' : `${needed} bytes`;
    throw new SafetensorsError(
      file,
      `${where} has shape [${shape.join(', ')}] and dtype ${dtype}, which needs ${size}, but its ${shown} hold ${end - begin}`,
    );
  }
  return {name, dtype, shape: [...(shape as number[])], file, byteOffset: dataStart + begin, byteLength: end - begin};
}

/** Bytes a tensor of this shape and dtype occupies, or undefined when that overflows 2^53. */
export function shapeBytes(shape: readonly number[], dtype: Dtype): number | undefined {
  let n = DTYPE_BYTES[dtype];
  for (const dim of shape) {
    n *= dim;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

function checkNoOverlap(file: string, tensors: readonly TensorInfo[], dataStart: number): void {
  // Empty tensors hold no bytes and overlap nothing, wherever their offsets point.
  const sorted = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      const range = (t: TensorInfo) => `[${t.byteOffset - dataStart}, ${t.byteOffset - dataStart + t.byteLength}]`;
      throw new SafetensorsError(
        file,
        `tensors ${JSON.stringify(prev.name)} ${range(prev)} and ${JSON.stringify(cur.name)} ${range(cur)} overlap in the data section`,
      );
    }
  }
}

function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A short description of a JSON value for error messages. */
export function describeJson(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return shorten(`an array ${JSON.stringify(x)}`);
  if (typeof x === 'object') return 'an object';
  return shorten(`${typeof x} ${JSON.stringify(x)}`);
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
