/**
 * One GGUF file (versions 2 and 3), opened once: the header (metadata key/values and tensor infos)
 * is parsed and checked like a safetensors header before any tensor is read, then each readBytes
 * reads one tensor with positioned reads.
 *
 * Layout (little-endian): "GGUF" | u32 version | u64 tensor count | u64 metadata count | metadata
 * (string key, u32 value type, value) | tensor infos (string name, u32 n_dims, u64 ne[n_dims] with
 * ne[0] the row length, u32 ggml type, u64 offset) | padding to `general.alignment` (default 32) |
 * tensor data, each tensor at data start + offset. A string is a u64 length and UTF-8 bytes; an
 * array a u32 element type, a u64 count and the elements.
 *
 * Checked: magic and version; every count and length against the bytes left in the file (so a
 * huge count fails at once instead of allocating); unknown value types; duplicate keys and names;
 * the alignment (a power of two); each tensor's type known, its rows whole blocks, its bytes equal
 * to shape x type, its offset aligned, inside the file and overlapping no other tensor.
 */
import fs from 'node:fs';
import {GgufError, IoError} from '../../../errors.js';
import {openRegularFile, systemReason} from '../../../io/read-file.js';
import {GGML_TYPES, GGUF_VALUE, type GgmlType} from './types.js';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensor {
  name: string;
  /** ggml type number and what it is. */
  typeId: number;
  type: GgmlType;
  /** ggml order: ne[0] is the row length (the fastest-moving index). */
  ne: number[];
  /** Absolute offset of the first byte in the file, and the byte length. */
  byteOffset: number;
  byteLength: number;
}

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
/** Largest header we parse (metadata and tensor infos): tokenizer vocabularies run to a few MiB. */
export const MAX_HEADER_BYTES = 512 * 1024 * 1024;
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;
/** Fewest bytes a metadata entry (key length, 1-byte key, type, 1-byte value) and a tensor info take. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8;

/** Reads the header bytes on demand, never past the file or MAX_HEADER_BYTES. */
class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private readonly decoder = new TextDecoder('utf-8', {fatal: true});

  constructor(
    private readonly file: string,
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** Bytes left in the file after the cursor. */
  get left(): number {
    return this.size - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.size) throw new GgufError(this.file, `truncated: ${what} at byte ${this.pos} needs ${n} bytes, the file ends at ${this.size}`);
    if (this.pos + n <= this.buf.length) return;
    if (this.pos + n > MAX_HEADER_BYTES) throw new GgufError(this.file, `header runs past ${MAX_HEADER_BYTES} bytes at ${what}; not a usable GGUF file`);
    const want = Math.min(this.size, MAX_HEADER_BYTES, Math.max(this.pos + n, 2 * this.buf.length, 1 << 20));
    const next = new Uint8Array(want);
    next.set(this.buf);
    let at = this.buf.length;
    while (at < want) {
      let got: number;
      try {
        got = fs.readSync(this.fd, next, at, want - at, at);
      } catch (error) {
        throw new IoError(this.file, `cannot read: ${systemReason(error)}`, {cause: error});
      }
      if (got === 0) throw new GgufError(this.file, `truncated: the file ended at byte ${at} while reading its header`);
      at += got;
    }
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A u64 that must fit a JS number exactly (counts, lengths, dims, offsets). */
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(this.file, `${what} is ${v}, larger than any file`);
    return Number(v);
  }

  string(what: string): string {
    const n = this.u64(`the length of ${what}`);
    if (n > this.left) throw new GgufError(this.file, `${what} at byte ${this.pos} claims ${n} bytes; only ${this.left} are left in the file`);
    this.need(n, what);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return this.decoder.decode(bytes);
    } catch {
      throw new GgufError(this.file, `${what} at byte ${this.pos - n} is not valid UTF-8`);
    }
  }

  scalar(type: number, what: string): GgufValue {
    const sizes: Record<number, number> = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};
    const size = sizes[type];
    if (size === undefined) throw new GgufError(this.file, `${what} has unknown value type ${type}`);
    this.need(size, what);
    const p = this.pos;
    this.pos += size;
    const d = this.view;
    switch (type) {
      case GGUF_VALUE.UINT8: return d.getUint8(p);
      case GGUF_VALUE.INT8: return d.getInt8(p);
      case GGUF_VALUE.UINT16: return d.getUint16(p, true);
      case GGUF_VALUE.INT16: return d.getInt16(p, true);
      case GGUF_VALUE.UINT32: return d.getUint32(p, true);
      case GGUF_VALUE.INT32: return d.getInt32(p, true);
      case GGUF_VALUE.FLOAT32: return d.getFloat32(p, true);
      case GGUF_VALUE.BOOL: return d.getUint8(p) !== 0;
      case GGUF_VALUE.UINT64: return narrow(d.getBigUint64(p, true));
      case GGUF_VALUE.INT64: return narrow(d.getBigInt64(p, true));
      default: return d.getFloat64(p, true);
    }
  }

  value(type: number, what: string, depth = 0): GgufValue {
    if (type === GGUF_VALUE.STRING) return this.string(what);
    if (type !== GGUF_VALUE.ARRAY) return this.scalar(type, what);
    if (depth > 4) throw new GgufError(this.file, `${what} nests arrays more than 4 deep`);
    const elem = this.u32(`the element type of ${what}`);
    const count = this.u64(`the length of ${what}`);
    const min = elem === GGUF_VALUE.STRING || elem === GGUF_VALUE.ARRAY ? 8 : ({0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4} as Record<number, number>)[elem] ?? 8;
    if (count * min > this.left) throw new GgufError(this.file, `${what} claims ${count} elements; only ${this.left} bytes are left in the file`);
    const out: GgufValue[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = this.value(elem, `${what}[${i}]`, depth + 1);
    return out;
  }
}

/** A 64-bit integer as a number when exact, else as a bigint. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export class GgufFile {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    readonly size: number,
    readonly version: number,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: ReadonlyMap<string, GgufTensor>,
    /** Absolute offset where tensor data starts. */
    readonly dataStart: number,
    readonly alignment: number,
  ) {
    this.fd = fd;
  }

  /** Opens and checks a GGUF file; throws GgufError (malformed) or IoError (unreadable). */
  static open(file: string): GgufFile {
    const {fd, size} = openRegularFile(file, (f, problem, options) => new IoError(f, problem, options));
    try {
      const c = new Cursor(file, fd, size);
      if (size < 24) throw new GgufError(file, `truncated: ${size} bytes, but a GGUF header alone takes 24`);
      const magic = c.u32('the magic');
      if (magic !== MAGIC) throw new GgufError(file, `not a GGUF file: it starts with 0x${magic.toString(16).padStart(8, '0')}, not "GGUF"`);
      const version = c.u32('the version');
      if (version !== 2 && version !== 3) throw new GgufError(file, `GGUF version ${version} is not supported (2 and 3 are)`);
      const nTensors = c.u64('the tensor count');
      const nKv = c.u64('the metadata count');
      if (nKv * MIN_KV_BYTES > c.left) throw new GgufError(file, `metadata count ${nKv} cannot fit the ${c.left} bytes left in the file`);
      const metadata = new Map<string, GgufValue>();
      for (let i = 0; i < nKv; i++) {
        const key = c.string(`metadata key ${i}`);
        if (metadata.has(key)) throw new GgufError(file, `metadata key "${key}" appears twice`);
        metadata.set(key, c.value(c.u32(`the type of "${key}"`), `metadata "${key}"`));
      }
      if (nTensors * MIN_TENSOR_INFO_BYTES > c.left) throw new GgufError(file, `tensor count ${nTensors} cannot fit the ${c.left} bytes left in the file`);
      const infos = readTensorInfos(c, file, nTensors);
      const alignment = readAlignment(file, metadata);
      const dataStart = Math.ceil(c.pos / alignment) * alignment;
      const tensors = placeTensors(file, infos, dataStart, alignment, size);
      return new GgufFile(file, fd, size, version, metadata, tensors, dataStart, alignment);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  tensor(name: string): GgufTensor {
    const t = this.tensors.get(name);
    if (!t) throw new GgufError(this.path, `has no tensor "${name}"`);
    return t;
  }

  /** The bytes of one tensor (a fresh array). */
  readBytes(name: string): Uint8Array {
    const t = this.tensor(name);
    if (this.fd === undefined) throw new IoError(this.path, 'is closed');
    const out = new Uint8Array(t.byteLength);
    let at = 0;
    while (at < out.length) {
      let got: number;
      try {
        got = fs.readSync(this.fd, out, at, Math.min(out.length - at, 1 << 30), t.byteOffset + at);
      } catch (error) {
        throw new IoError(this.path, `cannot read tensor "${name}": ${systemReason(error)}`, {cause: error});
      }
      if (got === 0) throw new GgufError(this.path, `truncated while reading tensor "${name}" (the file shrank after it was opened)`);
      at += got;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

interface RawInfo {
  name: string;
  ne: number[];
  typeId: number;
  offset: number;
}

function readTensorInfos(c: Cursor, file: string, n: number): RawInfo[] {
  const seen = new Set<string>();
  const out: RawInfo[] = [];
  for (let i = 0; i < n; i++) {
    const name = c.string(`tensor name ${i}`);
    if (seen.has(name)) throw new GgufError(file, `tensor "${name}" is listed twice`);
    seen.add(name);
    const nDims = c.u32(`the dimension count of tensor "${name}"`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new GgufError(file, `tensor "${name}" has ${nDims} dimensions; GGUF allows 1 to ${MAX_DIMS}`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.u64(`dimension ${d} of tensor "${name}"`));
    const typeId = c.u32(`the type of tensor "${name}"`);
    const offset = c.u64(`the offset of tensor "${name}"`);
    out.push({name, ne, typeId, offset});
  }
  return out;
}

function readAlignment(file: string, metadata: ReadonlyMap<string, GgufValue>): number {
  const a = metadata.get('general.alignment');
  if (a === undefined) return DEFAULT_ALIGNMENT;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 1 << 20 || (a & (a - 1)) !== 0) {
    throw new GgufError(file, `general.alignment must be a power of two up to 1 MiB, got ${String(a)}`);
  }
  return a;
}

function placeTensors(file: string, infos: RawInfo[], dataStart: number, alignment: number, size: number): Map<string, GgufTensor> {
  if (dataStart > size && infos.length > 0) throw new GgufError(file, `truncated: tensor data would start at byte ${dataStart}, past the end of the file (${size})`);
  const tensors = new Map<string, GgufTensor>();
  for (const {name, ne, typeId, offset} of infos) {
    const type = GGML_TYPES.get(typeId);
    if (!type) throw new GgufError(file, `tensor "${name}" has unknown ggml type ${typeId}`);
    if (ne.some((d) => d < 1)) throw new GgufError(file, `tensor "${name}" has an empty dimension [${ne.join(', ')}]`);
    if (ne[0]! % type.blockSize !== 0) {
      throw new GgufError(file, `tensor "${name}" (${type.name}) has rows of ${ne[0]} values, not a whole number of ${type.blockSize}-value blocks`);
    }
    const elements = ne.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) throw new GgufError(file, `tensor "${name}" has too many elements [${ne.join(', ')}]`);
    const byteLength = (elements / type.blockSize) * type.blockBytes;
    if (offset % alignment !== 0) throw new GgufError(file, `tensor "${name}" starts at data offset ${offset}, not a multiple of the alignment ${alignment}`);
    const byteOffset = dataStart + offset;
    if (byteOffset + byteLength > size) {
      throw new GgufError(file, `tensor "${name}" (${type.name} [${ne.join(', ')}], ${byteLength} bytes at byte ${byteOffset}) runs past the end of the file (${size} bytes)`);
    }
    tensors.set(name, {name, typeId, type, ne, byteOffset, byteLength});
  }
  const sorted = [...tensors.values()].sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const [prev, cur] = [sorted[i - 1]!, sorted[i]!];
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new GgufError(file, `tensor "${cur.name}" (bytes ${cur.byteOffset}..${cur.byteOffset + cur.byteLength}) overlaps tensor "${prev.name}" (bytes ${prev.byteOffset}..${prev.byteOffset + prev.byteLength})`);
    }
  }
  return tensors;
}
