/**
 * The cpu backend's KV cache: one block of the shared WebAssembly memory, so that the attention
 * kernels read it on every thread. Per layer the keys, then the values, each laid out by kv head
 * ([nKvHeads, maxSeqLen, headDim]: one contiguous stream per head), in f32 or f16.
 *
 * WebAssembly memory is not garbage-collected: a cache's block goes back to the arena when the
 * cache is released (Backend.releaseKvCache) or, as a backstop, when the garbage collector finds
 * the cache unreachable.
 */
import {BackendError} from '../../errors.js';
import type {KvCache, KvDtype, KvShape} from '../backend.js';
import {kvHalfBytes, type KvLayer} from './prompt-kernels.js';
import type {CpuKernels} from './kernels.js';

export class CpuKvCache implements KvCache {
  readonly dtype: KvDtype;
  /** Bytes of one layer's keys (or values). */
  readonly halfBytes: number;
  readonly bytes: number;
  private released = false;
  /**
   * Every layer's place, made once: layer() runs for every attention call, and building the
   * object there with a spread cost ~2 us a call in Node 20's V8 (a literal: ~0.04 us).
   */
  private readonly layers: readonly KvLayer[];

  constructor(
    readonly shape: KvShape,
    readonly ptr: number,
  ) {
    this.dtype = shape.dtype ?? 'f32';
    const layerShape = cacheLayerShape(shape);
    this.halfBytes = kvHalfBytes(layerShape);
    this.bytes = cacheBytes(shape);
    this.layers = Array.from({length: shape.nLayers}, (_, l) => {
      const keys = ptr + 2 * l * this.halfBytes;
      return Object.freeze({...layerShape, keys, values: keys + this.halfBytes});
    });
  }

  get nLayers(): number {
    return this.shape.nLayers;
  }

  get maxSeqLen(): number {
    return this.shape.maxSeqLen;
  }

  /** Where layer `l` lives, for the kernels. */
  layer(l: number): KvLayer {
    if (this.released) throw new BackendError('this KV cache was released');
    const layer = this.layers[l];
    if (!(Number.isInteger(l) && layer)) throw new BackendError(`KV cache layer ${l} outside 0..${this.shape.nLayers - 1}`);
    return layer;
  }

  /** Marks the cache unusable (its block is handed back by the backend). */
  markReleased(): boolean {
    const was = this.released;
    this.released = true;
    return !was;
  }
}

function cacheLayerShape(shape: KvShape): Omit<KvLayer, 'keys' | 'values'> {
  return {dtype: shape.dtype ?? 'f32', nKvHeads: shape.nKvHeads, headDim: shape.headDim, maxLen: shape.maxSeqLen};
}

/** Bytes of a whole cache. */
export function cacheBytes(shape: KvShape): number {
  return 2 * shape.nLayers * kvHalfBytes(cacheLayerShape(shape));
}

/** Positions 0 .. n - 1 of a layer as f32 [n, nKvHeads * headDim] (position-major, as the other backends hold them). */
export function readCpuKv(k: CpuKernels, cache: CpuKvCache, layer: number, n: number): {keys: Float32Array; values: Float32Array} {
  const l = cache.layer(layer);
  if (!(Number.isInteger(n) && n >= 0 && n <= l.maxLen)) throw new BackendError(`readKvCache: ${n} positions outside the cache (0..${l.maxLen})`);
  const kvDim = l.nKvHeads * l.headDim;
  const read = (base: number): Float32Array => {
    const out = new Float32Array(n * kvDim);
    for (let g = 0; g < l.nKvHeads; g++) {
      const head = base + g * l.maxLen * l.headDim * (l.dtype === 'f16' ? 2 : 4);
      const src = l.dtype === 'f16' ? k.u16(head, n * l.headDim) : k.f32(head, n * l.headDim);
      for (let j = 0; j < n; j++) {
        for (let d = 0; d < l.headDim; d++) {
          const v = src[j * l.headDim + d]!;
          out[j * kvDim + g * l.headDim + d] = l.dtype === 'f16' ? halfToFloat(v) : v;
        }
      }
    }
    return out;
  };
  return {keys: read(l.keys), values: read(l.values)};
}

/** IEEE half bits -> number (exact). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}
