import type {KvCache, KvShape} from '../backend.js';

/**
 * A KV cache in ordinary JS memory, for backends whose attention runs on the host: per layer one
 * (maxSeqLen, nKvHeads * headDim) array of keys and one of values. Float64 for the reference
 * backend, float32 elsewhere.
 */
export class HostKvCache<T extends Float32Array | Float64Array> implements KvCache {
  readonly keys: T[];
  readonly values: T[];
  private readonly kvDim: number;

  constructor(
    readonly shape: KvShape,
    make: (length: number) => T,
  ) {
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
    this.keys[layer]!.set(k, pos * this.kvDim);
    this.values[layer]!.set(v, pos * this.kvDim);
  }
}
