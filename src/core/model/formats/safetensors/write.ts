/**
 * Writing safetensors files, atomically and tensor by tensor.
 *
 * Layout choices:
 * - The header JSON lists tensors in insertion order and is padded with spaces so the data
 *   section starts 8-byte aligned.
 * - The data section holds the tensors back to back with no gaps, widest element type first
 *   (insertion order within each width). Every tensor therefore starts at an offset aligned to
 *   its own element size, and the file stays loadable by the reference Rust/Python
 *   implementation, which rejects gaps between tensors (so 8-byte padding between, say, two F16
 *   tensors is deliberately not used).
 * - The file is written to `<path>.tmp-<pid>-<random>` in the same directory, flushed, and
 *   renamed over `path`; on any failure the temporary file is removed and `path` is untouched.
 */

import {randomBytes} from 'node:crypto';
import fs from 'node:fs';

import {HireError, IoError, SafetensorsError} from '../../../errors.js';
import {DTYPE_BYTES, DTYPES, HOST_IS_LITTLE_ENDIAN, float32ToHalf, isDtype, type Dtype, type FloatDtype} from './dtypes.js';
import {HEADER_LENGTH_BYTES, MAX_HEADER_BYTES, METADATA_KEY, describeJson, shapeBytes} from './header.js';
import {systemReason} from '../../../io/read-file.js';

export interface TensorData {
  dtype: Dtype;
  shape: number[];
  /** Raw little-endian element data; its byte length must equal product(shape) * dtype size. */
  data: ArrayBufferView;
}

/** Largest single write; Node rejects 2 GiB or more in one call. */
const MAX_WRITE_CHUNK = 1 << 30;

interface PlannedFile {
  header: Uint8Array;
  /** Tensors in data-section order. */
  order: Array<{name: string; bytes: () => Uint8Array}>;
}

/**
 * Writes `tensors` (insertion order kept in the header) and optional string `metadata` to
 * `path`, replacing any existing file atomically. Throws `SafetensorsError` for invalid input
 * (before anything touches the disk) and `IoError` when the file cannot be written.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorData> | Record<string, TensorData>,
  metadata?: Record<string, string>,
): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new IoError(path, 'safetensors writing needs a little-endian host');
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const plan = planFile(path, entries, metadata);
  writeAtomically(path, (fd) => {
    const length = new Uint8Array(HEADER_LENGTH_BYTES);
    new DataView(length.buffer).setBigUint64(0, BigInt(plan.header.byteLength), true);
    writeAll(fd, length);
    writeAll(fd, plan.header);
    for (const t of plan.order) writeAll(fd, t.bytes());
  });
}

/** A tensor of the given float dtype holding `values` (rounded to nearest even for halves). */
export function float32Tensor(dtype: FloatDtype, shape: number[], values: Float32Array): TensorData {
  switch (dtype) {
    case 'F32':
      return {dtype, shape, data: values};
    case 'F64':
      return {dtype, shape, data: Float64Array.from(values)};
    default:
      return {dtype, shape, data: float32ToHalf(dtype, values)};
  }
}

function planFile(path: string, entries: Array<[string, TensorData]>, metadata: Record<string, string> | undefined): PlannedFile {
  for (const [name, t] of entries) validateTensor(path, name, t);
  const meta = validateMetadata(path, metadata);

  // Data order: widest elements first, stable, so every offset is naturally aligned with no gaps.
  const byWidth = entries.map((e, i) => ({e, i}));
  byWidth.sort((a, b) => DTYPE_BYTES[b.e[1].dtype] - DTYPE_BYTES[a.e[1].dtype] || a.i - b.i);
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const {e: [name, t]} of byWidth) {
    offsets.set(name, [offset, offset + t.data.byteLength]);
    offset += t.data.byteLength;
  }

  // Built by hand so keys keep insertion order (JSON.stringify moves integer-like keys first).
  const parts: string[] = [];
  if (meta !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(meta)}`);
  for (const [name, t] of entries) {
    const entry = {dtype: t.dtype, shape: t.shape, data_offsets: offsets.get(name)};
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > MAX_HEADER_BYTES) {
    throw new SafetensorsError(path, `header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers accept`);
  }
  const header = new Uint8Array(padded).fill(0x20);
  header.set(json);

  const order = byWidth.map(({e: [name, t]}) => ({
    name,
    bytes: () => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  }));
  return {header, order};
}

function validateTensor(path: string, name: string, t: TensorData): void {
  const where = `tensor ${JSON.stringify(name)}`;
  if (name === METADATA_KEY) throw new SafetensorsError(path, `${METADATA_KEY} is reserved and cannot name a tensor`);
  if (typeof t !== 'object' || t === null) {
    throw new SafetensorsError(path, `${where} must be {dtype, shape, data}, found ${describeJson(t)}`);
  }
  if (!isDtype(t.dtype)) {
    throw new SafetensorsError(path, `${where} has unknown dtype ${describeJson(t.dtype)} (supported: ${DTYPES.join(', ')})`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(path, `${where} shape must be a list of non-negative integers, found ${describeJson(t.shape)}`);
  }
  if (!ArrayBuffer.isView(t.data)) {
    throw new SafetensorsError(path, `${where} data must be a typed array or DataView`);
  }
  const needed = shapeBytes(t.shape, t.dtype);
  if (needed !== t.data.byteLength) {
    const size = needed === undefined ? 'more bytes than can be addressed' : `${needed} bytes`;
    throw new SafetensorsError(
      path,
      `${where} has shape [${t.shape.join(', ')}] and dtype ${t.dtype}, which needs ${size}, but its data holds ${t.data.byteLength} bytes`,
    );
  }
}

function validateMetadata(path: string, metadata: Record<string, string> | undefined): Record<string, string> | undefined {
  if (metadata === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(path, `metadata must map strings to strings, but key ${JSON.stringify(key)} holds ${describeJson(value)}`);
    }
    out[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function writeAtomically(path: string, write: (fd: number) => void): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  let created = false;
  try {
    fd = fs.openSync(tmp, 'wx');
    created = true;
    write(fd);
    fs.fsyncSync(fd);
    const done = fd;
    fd = undefined;
    fs.closeSync(done);
    fs.renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    if (created) unlinkQuietly(tmp);
    if (err instanceof HireError || (err as NodeJS.ErrnoException)?.code === undefined) throw err;
    throw new IoError(path, `cannot write: ${systemReason(err)}`, {cause: err});
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    const wrote = fs.writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, MAX_WRITE_CHUNK));
    if (wrote <= 0) throw new Error(`write made no progress after ${done} of ${bytes.byteLength} bytes`);
    done += wrote;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already failing; the first error is the one worth reporting
  }
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // nothing left to remove
  }
}
