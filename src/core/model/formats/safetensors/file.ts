/**
 * One safetensors file, opened once and read lazily, tensor by tensor.
 *
 * Only the header is read at `open`; every `readBytes` call reads exactly one tensor's bytes
 * with positioned reads, straight into the caller's buffer when one is given (so a caller can
 * place weights in its own SharedArrayBuffer or WebAssembly memory with no second copy).
 */

import fs from 'node:fs';

import {IoError, SafetensorsError} from '../../../errors.js';
import {openRegularFile, systemReason} from '../../../io/read-file.js';
import {HOST_IS_LITTLE_ENDIAN, halfToFloat32, toFloat32, viewAs, type TypedArrayByDtype, type Dtype} from './dtypes.js';
import {HEADER_LENGTH_BYTES, checkHeaderLength, parseHeader, type TensorInfo} from './header.js';

/** What both a single file and a (possibly sharded) checkpoint offer, by tensor name. */
export interface TensorSource {
  readonly metadata: Readonly<Record<string, string>>;
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  readBytes(name: string, into?: Uint8Array): Uint8Array;
  readFloat32(name: string): Float32Array<ArrayBuffer>;
  readTyped<D extends Dtype>(name: string, dtype?: D): TypedArrayByDtype<ArrayBuffer>[D];
  close(): void;
}

/** Largest single read; Node rejects reads of 2 GiB or more in one call. */
const MAX_READ_CHUNK = 1 << 30;

export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** Size of the file in bytes when it was opened. */
  readonly fileSize: number;
  private fd: number | undefined;

  private constructor(path: string, fd: number, fileSize: number, tensors: TensorInfo[], metadata: Record<string, string>) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fileSize;
    this.tensors = new Map(tensors.map((t) => [t.name, Object.freeze({...t, shape: Object.freeze(t.shape) as number[]})]));
    this.metadata = Object.freeze(metadata);
  }

  /**
   * Opens `path` (never blocking, following symlinks to a regular file) and validates its header;
   * throws `SafetensorsError` or `IoError`.
   */
  static open(path: string): SafetensorsFile {
    if (!HOST_IS_LITTLE_ENDIAN) throw new IoError(path, 'safetensors reading needs a little-endian host');
    const {fd, size: fileSize} = openRegularFile(path, (file, problem, options) => new IoError(file, problem, options));
    try {
      const first8 = new Uint8Array(HEADER_LENGTH_BYTES);
      if (fileSize >= HEADER_LENGTH_BYTES) readFully(path, fd, first8, 0);
      const headerLength = checkHeaderLength(path, first8, fileSize);
      const headerBytes = new Uint8Array(headerLength);
      readFully(path, fd, headerBytes, HEADER_LENGTH_BYTES);
      const header = parseHeader(path, headerBytes, fileSize);
      return new SafetensorsFile(path, fd, fileSize, header.tensors, header.metadata);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (t === undefined) throw new SafetensorsError(this.path, missingTensorProblem(name, this.names()));
    return t;
  }

  /**
   * Reads the tensor's raw little-endian bytes into `into` (which must be exactly the tensor's
   * byte length; any view, including over a SharedArrayBuffer or WebAssembly memory) or into a
   * fresh buffer. Returns the filled array.
   */
  readBytes(name: string, into?: Uint8Array): Uint8Array {
    const t = this.info(name);
    const out = into ?? new Uint8Array(t.byteLength);
    if (out.byteLength !== t.byteLength) {
      throw new RangeError(
        `${this.path}: buffer of ${out.byteLength} bytes given for tensor ${JSON.stringify(name)}, which holds ${t.byteLength} bytes`,
      );
    }
    readFully(this.path, this.openFd(), out, t.byteOffset, name);
    return out;
  }

  /** The tensor as fresh f32 values, converted from F16/BF16/F64 (or integers) when needed. */
  readFloat32(name: string): Float32Array<ArrayBuffer> {
    return readFloat32Via(this.info(name), (into) => this.readBytes(name, into));
  }

  /** The tensor in its natural typed array (F16/BF16 as raw bits); checks the dtype if given. */
  readTyped<D extends Dtype>(name: string, dtype?: D): TypedArrayByDtype<ArrayBuffer>[D] {
    return readTypedVia(this.info(name), dtype, (into) => this.readBytes(name, into));
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  /** Closes the file; later reads throw. Closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new IoError(this.path, 'file is closed; open it again to read tensors');
    return this.fd;
  }
}

export function readFloat32Via(info: TensorInfo, read: (into: Uint8Array) => Uint8Array): Float32Array<ArrayBuffer> {
  if (info.dtype === 'F32') {
    const out = new Float32Array(info.byteLength / 4);
    read(new Uint8Array(out.buffer));
    return out;
  }
  if (info.dtype === 'F16' || info.dtype === 'BF16') {
    const bits = new Uint16Array(info.byteLength / 2);
    read(new Uint8Array(bits.buffer));
    return halfToFloat32(info.dtype, bits);
  }
  const bytes = new Uint8Array(info.byteLength);
  read(bytes);
  return toFloat32(info.dtype, bytes);
}

export function readTypedVia<D extends Dtype>(
  info: TensorInfo,
  dtype: D | undefined,
  read: (into: Uint8Array) => Uint8Array,
): TypedArrayByDtype<ArrayBuffer>[D] {
  if (dtype !== undefined && dtype !== info.dtype) {
    throw new SafetensorsError(info.file, `tensor ${JSON.stringify(info.name)} is ${info.dtype}, not ${dtype}`);
  }
  // A fresh buffer is aligned for every element size.
  const bytes = new Uint8Array(info.byteLength);
  read(bytes);
  return viewAs(info.dtype as D, bytes) as TypedArrayByDtype<ArrayBuffer>[D];
}

export function missingTensorProblem(name: string, names: readonly string[]): string {
  const shown = names.slice(0, 3).map((s) => JSON.stringify(s)).join(', ');
  const more = names.length > 3 ? ', ...' : '';
  const has = names.length === 0 ? 'it holds no tensors' : `it holds ${names.length}: ${shown}${more}`;
  return `no tensor named ${JSON.stringify(name)} (${has})`;
}

/**
 * Fills `into` from the file starting at `position`, looping because one read may return fewer
 * bytes than asked and is capped below 2 GiB. `chunk` (bytes per read) exists for tests.
 */
export function readFully(
  path: string,
  fd: number,
  into: Uint8Array,
  position: number,
  tensor?: string,
  chunk = MAX_READ_CHUNK,
): void {
  let done = 0;
  while (done < into.byteLength) {
    const want = Math.min(into.byteLength - done, chunk);
    let got: number;
    try {
      got = fs.readSync(fd, into, done, want, position + done);
    } catch (err) {
      throw new IoError(path, `read failed at byte ${position + done}: ${systemReason(err)}`, {cause: err});
    }
    if (got === 0) {
      const what = tensor === undefined ? 'the header' : `tensor ${JSON.stringify(tensor)}`;
      throw new SafetensorsError(
        path,
        `file ended after ${done} of ${into.byteLength} bytes of ${what} at byte ${position} (was it truncated after opening?)`,
      );
    }
    done += got;
  }
}
