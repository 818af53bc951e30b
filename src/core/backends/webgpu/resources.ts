/**
 * What the webgpu backend's opaque handles hold: vectors, matrices (as row chunks) and KV caches,
 * all in GPU buffers. Vectors are padded to a multiple of 64 f32 that stay 0, so a matvec may read
 * a whole padded unit past the last column.
 */
import {BackendError} from '../../errors.js';
import type {KvCache, KvShape, Mat, MatDtype, Vec} from '../backend.js';
import {chunkRows, rowUnits, wordsPerGroup, type PackedMatrix} from './layout.js';
import {USAGE} from './recorder.js';
import type {GpuWeightKind} from './wgsl/weights.js';

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const VEC_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;

export class GpuVec implements Vec {
  readonly buffers: GPUBuffer[];
  constructor(
    readonly length: number,
    readonly buffer: GPUBuffer, // [roundUp(length, 64)] f32
  ) {
    this.buffers = [buffer];
  }
}

export function createVecBuffer(device: GPUDevice, length: number): GPUBuffer {
  return device.createBuffer({size: roundUp(Math.max(length, 1), 64) * 4, usage: VEC_USAGE});
}

/** One row range of a matrix in its own buffers. */
export interface MatChunk {
  rowStart: number;
  rows: number;
  words: GPUBuffer; // [rows, rowWords] u32
  scales: GPUBuffer | null; // [rows, groups] f32 (quantised)
}

export class GpuMat implements Mat {
  readonly buffers: GPUBuffer[];
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly dtype: MatDtype,
    readonly bytes: number,
    readonly kind: GpuWeightKind,
    /** Uniform fields shared by every kernel on this matrix. */
    readonly shape: {stride: number; units: number; groups: number; wpg: number; gs: number},
    readonly chunks: MatChunk[],
  ) {
    this.buffers = chunks.flatMap((c) => (c.scales ? [c.words, c.scales] : [c.words]));
  }

  /** The chunk holding `row`. */
  chunkOf(row: number): MatChunk {
    for (const c of this.chunks) if (row < c.rowStart + c.rows) return c;
    throw new RangeError(`row ${row} outside 0..${this.rows - 1}`);
  }
}

function uploadBuffer(device: GPUDevice, data: Uint32Array | Float32Array, label: string): GPUBuffer {
  const buf = device.createBuffer({size: roundUp(Math.max(data.byteLength, 16), 16), usage: USAGE.STORAGE | USAGE.COPY_DST, label});
  device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
  return buf;
}

/** Uploads a packed matrix, split into chunks of at most `maxBinding` bytes. */
export function uploadPacked(device: GPUDevice, p: PackedMatrix, dtype: MatDtype, bytes: number, maxBinding: number): GpuMat {
  const per = chunkRows(p, maxBinding);
  const chunks: MatChunk[] = [];
  for (let r0 = 0; r0 < p.rows || chunks.length === 0; r0 += per) {
    const rows = Math.min(per, p.rows - r0);
    const words = uploadBuffer(device, p.words.subarray(r0 * p.rowWords, (r0 + rows) * p.rowWords), `${dtype} rows ${r0}+${rows}`);
    const scales = p.scales ? uploadBuffer(device, p.scales.subarray(r0 * p.groups, (r0 + rows) * p.groups), 'scales') : null;
    chunks.push({rowStart: r0, rows, words, scales});
  }
  const {stride, units} = rowUnits(p);
  const shape = {stride, units, groups: p.groups, wpg: wordsPerGroup(p), gs: p.groupSize || 1};
  return new GpuMat(p.rows, p.cols, dtype, bytes, p.kind, shape, chunks);
}

/** Per layer: keys and values (maxSeqLen, kvDim) f32; one score scratch (nHeads, maxSeqLen), made on first use. */
export class GpuKvCache implements KvCache {
  readonly keys: GPUBuffer[];
  readonly values: GPUBuffer[];
  readonly kvDim: number;
  /** Set by releaseKvCache: the buffers are on their way to being destroyed. */
  released = false;
  /** Every buffer of the cache; the score scratch joins when made. */
  readonly buffers: GPUBuffer[];
  private scores: GPUBuffer | null = null;

  constructor(
    private readonly device: GPUDevice,
    readonly shape: KvShape,
    maxBinding: number,
  ) {
    this.kvDim = shape.nKvHeads * shape.headDim;
    const bytes = shape.maxSeqLen * this.kvDim * 4;
    if (bytes > maxBinding) {
      throw new BackendError(
        `webgpu: one layer's KV cache (${shape.maxSeqLen} positions x ${this.kvDim} values, ${bytes} bytes) exceeds the ` +
          `largest storage binding (${maxBinding} bytes); use a shorter context`,
      );
    }
    const make = () => device.createBuffer({size: Math.max(bytes, 16), usage: USAGE.STORAGE | USAGE.COPY_DST | USAGE.COPY_SRC});
    this.keys = Array.from({length: shape.nLayers}, make);
    this.values = Array.from({length: shape.nLayers}, make);
    this.buffers = [...this.keys, ...this.values];
  }

  get nLayers(): number {
    return this.shape.nLayers;
  }

  get maxSeqLen(): number {
    return this.shape.maxSeqLen;
  }

  scoreBuffer(nHeads: number): GPUBuffer {
    const size = nHeads * this.shape.maxSeqLen * 4;
    if (!this.scores || this.scores.size < size) {
      // A smaller one made for fewer heads stays in `buffers` (queued work may still use it).
      this.scores = this.device.createBuffer({size: Math.max(size, 16), usage: USAGE.STORAGE});
      this.buffers.push(this.scores);
      this.onBuffer?.(this.scores);
    }
    return this.scores;
  }

  /** Set by the backend: told of buffers made after construction. */
  onBuffer: ((b: GPUBuffer) => void) | null = null;
}
