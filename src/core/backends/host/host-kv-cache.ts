import {BackendError} from '../../errors.js';
import type {KvCache, KvShape} from '../backend.js';

/**
 * A KV cache in ordinary JS memory, for backends whose attention runs on the host: per layer one
 * (maxSeqLen, nKvHeads * headDim) array of keys and one of values. Float64 for the reference
 * backend, float32 elsewhere.
 */
export class HostKvCache<T extends Float32Array | Float64Array> implements KvCache {
  keys: T[];
  values: T[];
  private readonly kvDim: number;

  constructor(
    readonly shape: KvShape,
    make: (length: number) => T,
  ) {
    if ((shape.dtype ?? 'f32') !== 'f32') throw new BackendError(`this backend keeps its KV cache in f32, not ${shape.dtype}`);
    this.kvDim = shape.nKvHeads * shape.headDim;
    const size = shape.maxSeqLen * this.kvDim;
    this.keys = Array.from({length: shape.nLayers}, () => make(size));
    this.values = Array.from({length: shape.nLayers}, () => make(size));
  }

  get nLayers(): number {
    return this.shape.nLayers;
  }

  get maxSeqLen(): number {
    return this.shape.maxSeqLen;
  }

  /** Stores one position's keys and values [nKvHeads * headDim] of a layer. */
  append(layer: number, pos: number, k: ArrayLike<number>, v: ArrayLike<number>): void {
    if (this.keys.length === 0) throw new BackendError('this KV cache was released');
    this.keys[layer]!.set(k, pos * this.kvDim);
    this.values[layer]!.set(v, pos * this.kvDim);
  }

  /** Positions 0 .. n - 1 of a layer as f32 [n, nKvHeads * headDim] copies. */
  read(layer: number, n: number): {keys: Float32Array; values: Float32Array} {
    if (this.keys.length === 0) throw new BackendError('this KV cache was released');
    if (!(layer >= 0 && layer < this.nLayers && n >= 0 && n <= this.maxSeqLen)) throw new BackendError(`readKvCache: layer ${layer}, ${n} positions outside the cache`);
    const end = n * this.kvDim;
    return {keys: Float32Array.from(this.keys[layer]!.subarray(0, end)), values: Float32Array.from(this.values[layer]!.subarray(0, end))};
  }

  /** Drops the arrays (the garbage collector frees them); later use throws. */
  release(): void {
    this.keys = [];
    this.values = [];
  }
}
