/**
 * The webgpu backend: hand-written WGSL kernels on Dawn (the `webgpu` npm package).
 *
 * - Everything lives on the GPU: weights (f16/bf16 as packed u32, quantised as packed words plus
 *   f32 scales, split by rows above the largest storage binding), vectors, and the KV cache.
 * - Kernels are queued (recorder.ts) and encoded into one command buffer when read() needs a
 *   result: a dense decode step is one submit and one mapped read of the logits (HiRE adds one per
 *   host-side choice: the softmax candidates, each sparse FFN layer's groups).
 * - On llvmpipe (no GPU) kernels avoid workgroup barriers and dispatches: one thread per matvec
 *   row, one per norm, keepTopK in one thread; on a GPU 64 threads share a row, 256 a norm, and
 *   keepTopK is a parallel radix select.
 * - topK never reads x back: a local top-k per chunk, then merge rounds, queued with the step's
 *   other kernels; only the k (id, value) pairs are mapped (top-k.ts). On llvmpipe, where x is in
 *   host memory anyway, copying it out and selecting on the host is cheaper, and is the default.
 * - Kernels run in f32 (accumulation too); norms' and attention's sums are f32, RoPE angles come
 *   from the host in float64.
 * - A device loss or a Dawn error becomes a BackendError at the next call.
 */
import type {Activation} from '../../model/config.js';
import {BackendError} from '../../errors.js';
import type {AttentionShape, Backend, HostMatrix, HostQuantMatrix, KvCache, KvShape, Mat, OpName, RopeTable, TopK, Vec} from '../backend.js';
import {dequantizeHost, hostMatrixBytes, isBlockMatrix, LOOPED_BATCH, LOOPED_ROWS, quantMatrixBytes} from '../backend.js';
import {ropeAngles, topKHost} from '../host/host-kernels.js';
import {adapterChoice, openGpu, type AdapterChoice, type GpuContext} from './device.js';
import {packBlockMatrix, packMatrix, packQuantMatrix, quantFitsWords} from './layout.js';
import {aliasPattern, Pipelines, type FixedKernel} from './pipelines.js';
import {MAP_READ, Recorder, Staged, USAGE, type Binding} from './recorder.js';
import {createVecBuffer, GpuKvCache, GpuMat, GpuVec, uploadPacked} from './resources.js';
import {GpuTopK, topKShape} from './top-k.js';
import {BlockMatvec} from './block.js';
import {MATRIX_PARAMS, WG, type MatrixParams} from './wgsl/matrix-kernels.js';

export interface WebGpuBackendOptions {
  /** 'auto' (default, or HIRE_WEBGPU_ADAPTER): a real GPU when there is one, else llvmpipe. */
  adapter?: AdapterChoice;
  /** Kernel shape overrides (tests): threads per matvec row, threads per norm (powers of two <= 64 / 256). */
  threadsPerRow?: number;
  normThreads?: number;
  /** keepTopK in one single-thread dispatch (default on llvmpipe) instead of the parallel radix select. */
  serialTopK?: boolean;
  /**
   * topK by reading x and selecting on the host (default on llvmpipe: x is in host memory there,
   * and copying it out costs less than any select kernel) instead of the GPU kernels.
   */
  hostTopK?: boolean;
  /**
   * The GPU topK's local stage: threads per workgroup and entries per chunk (powers of two, chunk
   * >= 2 * threads; one thread: a serial select, chunk <= 4096). Default 256 and 1024 on a GPU, 1
   * and 2048 on llvmpipe.
   */
  topKThreads?: number;
  topKChunk?: number;
  /** Largest matrix chunk in bytes (tests: force the split that big matrices get); default the device limit. */
  maxChunkBytes?: number;
}

const v = (x: Vec) => x as GpuVec;
const m = (w: Mat) => w as GpuMat;

/** 32-bit words of a uniform struct: integers as u32, `{f}` as f32 bits. */
function words(values: Array<number | {f: number}>): Uint32Array {
  const out = new Uint32Array(values.length);
  const f = new Float32Array(out.buffer);
  values.forEach((x, i) => (typeof x === 'number' ? (out[i] = x) : (f[i] = x.f)));
  return out;
}

function matrixWords(p: MatrixParams): Uint32Array {
  return Uint32Array.from(MATRIX_PARAMS, (name) => p[name] ?? 0);
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  private readonly device: GPUDevice;
  private readonly rec: Recorder;
  private readonly pipes: Pipelines;
  /** Every GPU buffer this backend made; dispose() destroys them all. */
  private readonly owned = new Set<GPUBuffer>();
  /**
   * Buffers of handles the garbage collector found unreachable (a KV cache or a head's predictor
   * of a finished generation): destroyed after the next submit, since commands still queued may use them.
   */
  private readonly graveyard: GPUBuffer[] = [];
  private readonly reaper = new FinalizationRegistry<GPUBuffer[]>((buffers) => this.graveyard.push(...buffers));
  private topkBuffer: GPUBuffer | null = null;
  private zeroVec: GpuVec | null = null;
  /** Stand-ins for absent optional bindings: one bound read_write (bias), one read-only (index pairs). */
  private readonly dummy: GPUBuffer;
  private readonly dummyIndex: GPUBuffer;
  private readonly maxBinding: number;
  private readonly maxChunk: number;
  private readonly serialTopK: boolean;
  private readonly gpuTopK: GpuTopK;
  private readonly hostTopK: boolean;
  private readonly block: BlockMatvec;
  private failure: string | null = null;
  private disposed = false;

  constructor(
    private readonly ctx: GpuContext,
    opts: WebGpuBackendOptions = {},
  ) {
    this.device = ctx.device;
    this.maxBinding = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    this.maxChunk = Math.min(opts.maxChunkBytes ?? Infinity, this.maxBinding);
    this.serialTopK = opts.serialTopK ?? ctx.software;
    this.hostTopK = opts.hostTopK ?? ctx.software;
    this.rec = new Recorder(this.device);
    this.pipes = new Pipelines(this.device, opts.threadsPerRow ?? (ctx.software ? 1 : 64), opts.normThreads ?? (ctx.software ? 1 : 256));
    const shape = topKShape({threads: opts.topKThreads, chunk: opts.topKChunk}, ctx.software);
    this.gpuTopK = new GpuTopK(this.device, this.rec, this.pipes, shape, (b) => this.ownBuffer(b), (bs) => this.graveyard.push(...bs));
    this.dummy = this.ownBuffer(createVecBuffer(this.device, 1));
    this.dummyIndex = this.ownBuffer(createVecBuffer(this.device, 1));
    this.block = new BlockMatvec({
      device: this.device,
      rec: this.rec,
      pipes: this.pipes,
      dummy: this.dummy,
      own: (b) => this.ownBuffer(b),
      retire: (b) => this.graveyard.push(b),
    });
    void this.device.lost.then((info) => {
      if (!this.disposed) this.failure ??= `the GPU device was lost (${info.reason}): ${info.message}`;
    });
    this.device.onuncapturederror = (e: GPUUncapturedErrorEvent) => {
      this.failure ??= `Dawn reported an error: ${e.error.message}`;
    };
  }

  /** Whether the adapter is a CPU implementation (llvmpipe): its figures are not GPU figures. */
  get software(): boolean {
    return this.ctx.software;
  }

  get hardware(): string {
    return this.ctx.description;
  }

  loseDevice(): void {
    this.ctx.device.destroy();
  }

  describe(): string {
    const note = this.ctx.software ? '; software rasteriser, not a GPU' : '';
    return `webgpu (${this.ctx.description}${note})`;
  }

  supports(op: OpName): boolean {
    return op !== 'sharedBatch' && op !== 'kvF16'; // batched kernels loop; the KV cache is f32
  }

  // ---- memory -------------------------------------------------------------------------------

  uploadMatrix(host: HostMatrix): Mat {
    this.check();
    const expected = isBlockMatrix(host) ? hostMatrixBytes(host) : host.rows * host.cols;
    if (host.data.length !== expected) {
      throw new BackendError(`uploadMatrix: ${host.data.length} values for a [${host.rows}, ${host.cols}] ${host.dtype} matrix`);
    }
    const packed = isBlockMatrix(host) ? packBlockMatrix(host) : packMatrix(host);
    return this.track(uploadPacked(this.device, packed, host.dtype, hostMatrixBytes(host), this.maxChunk));
  }

  uploadQuantMatrix(q: HostQuantMatrix): Mat {
    this.check();
    if (!quantFitsWords(q)) {
      // A scale group that splits a u32 word: no kernel for it; hold the matrix as f32.
      return this.uploadMatrix({dtype: 'f32', rows: q.rows, cols: q.cols, data: dequantizeHost(q)});
    }
    return this.track(uploadPacked(this.device, packQuantMatrix(q), `q${q.bits}`, quantMatrixBytes(q), this.maxChunk));
  }

  uploadVector(data: Float32Array): Vec {
    const vec = this.createVector(data.length) as GpuVec;
    if (data.length) this.device.queue.writeBuffer(vec.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return vec;
  }

  createVector(length: number): Vec {
    this.check();
    return this.track(new GpuVec(length, createVecBuffer(this.device, length)));
  }

  readonly createVectors = LOOPED_ROWS.createVectors;

  createKvCache(shape: KvShape): KvCache {
    this.check();
    if ((shape.dtype ?? 'f32') !== 'f32') throw new BackendError(`webgpu keeps its KV cache in f32, not ${shape.dtype}`);
    const cache = this.track(new GpuKvCache(this.device, shape, this.maxBinding));
    cache.onBuffer = (b) => this.owned.add(b);
    return cache;
  }

  /** Its buffers are destroyed after the next submit (commands already queued may still use them). */
  releaseKvCache(cache: KvCache): void {
    const c = cache as GpuKvCache;
    if (c.released) return;
    c.released = true;
    this.reaper.unregister(c);
    this.graveyard.push(...c.buffers);
  }

  async readKvCache(cache: KvCache, layer: number, n: number): Promise<{keys: Float32Array; values: Float32Array}> {
    this.check();
    const c = cache as GpuKvCache;
    if (c.released) throw new BackendError('webgpu: this KV cache was released');
    if (!(layer >= 0 && layer < c.nLayers && n >= 0 && n <= c.maxSeqLen)) throw new BackendError(`readKvCache: layer ${layer}, ${n} positions outside the cache`);
    if (n === 0) return {keys: new Float32Array(0), values: new Float32Array(0)};
    const words = n * c.kvDim;
    const keys = new Float32Array((await this.readWords(c.keys[layer]!, words)).buffer);
    const values = new Float32Array((await this.readWords(c.values[layer]!, words)).buffer);
    return {keys, values};
  }

  write(dst: Vec, src: Float32Array): void {
    if (src.length !== dst.length) throw new BackendError(`write: ${src.length} values into a vector of ${dst.length}`);
    if (src.length === 0) return;
    const copy = new Uint32Array(src.length);
    new Float32Array(copy.buffer).set(src);
    this.rec.copy(new Staged(copy), v(dst).buffer, 0, src.length * 4);
  }

  async read(src: Vec): Promise<Float32Array> {
    this.check();
    return new Float32Array((await this.readWords(v(src).buffer, src.length)).buffer);
  }

  // ---- kernels: matrices ----------------------------------------------------------------------

  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void {
    const mat = m(w);
    const tpr = this.pipes.threadsPerRow;
    for (const c of mat.chunks) {
      const params = matrixWords({...mat.shape, n: c.rows, outOff: c.rowStart, hasBias: bias ? 1 : 0});
      const groups = this.rec.grid(Math.ceil((c.rows * tpr) / WG));
      this.dispatchMat(this.pipes.matvec(mat.kind, 'dense'), params, c, [
        [3, v(x).buffer],
        [4, v(out).buffer],
        [5, bias ? v(bias).buffer : this.dummy],
      ], groups);
    }
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    const mat = m(w);
    const tpr = this.pipes.threadsPerRow;
    for (const [c, pairs] of this.pairsByChunk(mat, rows)) {
      const n = pairs.length / 2;
      const params = matrixWords({...mat.shape, n});
      this.dispatchMat(this.pipes.matvec(mat.kind, 'rows'), params, c, [
        [3, v(x).buffer],
        [4, v(out).buffer],
        [6, new Staged(pairs)],
      ], this.rec.grid(Math.ceil((n * tpr) / WG)));
    }
  }

  accumulateRows(w: Mat, rows: Int32Array | null, coef: Vec, out: Vec, bias?: Vec): void {
    const mat = m(w);
    const groups = this.rec.grid(Math.ceil(mat.cols / WG));
    const terms: Array<[GpuMat['chunks'][number], Uint32Array | null]> = rows
      ? [...this.pairsByChunk(mat, rows)]
      : mat.chunks.map((c) => [c, null]);
    if (terms.length === 0) terms.push([mat.chunks[0]!, new Uint32Array(0)]); // out = bias (or 0)
    terms.forEach(([c, pairs], i) => {
      const n = pairs ? pairs.length / 2 : c.rows;
      const params = matrixWords({...mat.shape, n, cols: mat.cols, init: i === 0 ? 1 : 0, hasBias: bias ? 1 : 0, all: pairs ? 0 : 1, coefOff: c.rowStart});
      this.dispatchMat(this.pipes.accumulate(mat.kind), params, c, [
        [3, v(coef).buffer],
        [4, v(out).buffer],
        [5, bias ? v(bias).buffer : this.dummy],
        [6, pairs ? new Staged(pairs.length ? pairs : new Uint32Array(2)) : this.dummyIndex],
      ], groups);
    });
  }

  /** A dense matrix and several vectors: the block kernel (four vectors a thread); else one matvec per vector. */
  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec): void {
    this.check();
    if (xs.length < 2 || !BlockMatvec.handles(m(w))) return LOOPED_BATCH.matvecBatch.call(this, w, xs, outs, bias);
    this.block.run(m(w), xs as GpuVec[], outs as GpuVec[], bias as GpuVec | undefined);
  }

  /** The other batched forms: one dispatch per sequence, all in the same command buffer. */
  readonly matvecRowsBatch = LOOPED_BATCH.matvecRowsBatch;
  readonly accumulateRowsBatch = LOOPED_BATCH.accumulateRowsBatch;

  embedRow(w: Mat, row: number, out: Vec): void {
    const mat = m(w);
    if (!(row >= 0 && row < mat.rows)) throw new RangeError(`embedRow: row ${row} outside 0..${mat.rows - 1}`);
    const c = mat.chunkOf(row);
    const params = matrixWords({...mat.shape, cols: mat.cols, row: row - c.rowStart});
    this.dispatchMat(this.pipes.embed(mat.kind), params, c, [[4, v(out).buffer]], this.rec.grid(Math.ceil(mat.cols / WG)));
  }

  // ---- kernels: vectors -------------------------------------------------------------------------

  add(a: Vec, b: Vec, out: Vec): void {
    this.elementwise((al) => this.pipes.binary('+', al), out.length, words([out.length]), [v(a).buffer, v(b).buffer, v(out).buffer]);
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    this.elementwise((al) => this.pipes.binary('*', al), out.length, words([out.length]), [v(a).buffer, v(b).buffer, v(out).buffer]);
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    this.elementwise((al) => this.pipes.activation(kind, al), out.length, words([out.length]), [v(x).buffer, v(out).buffer]);
  }

  /** One workgroup (no grid). */
  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    const bufs = [v(x).buffer, v(weight).buffer, v(out).buffer];
    this.elementwise((al) => this.pipes.norm('rms', al), 0, words([x.length, {f: eps}]), bufs);
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    const bufs = [v(x).buffer, v(weight).buffer, v(out).buffer, v(bias).buffer];
    this.elementwise((al) => this.pipes.norm('layer', al), 0, words([x.length, {f: eps}]), bufs);
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    const half = table.headDim / 2;
    const {cos, sin} = ropeAngles(table.invFreq, pos);
    const cs = new Float32Array(2 * half); // [cos..., sin...], from float64 angles
    cs.set(cos);
    cs.set(sin, half);
    const n = nHeads * half;
    this.fixed('rope', n, words([n, half, table.headDim]), [v(x).buffer, new Staged(new Uint32Array(cs.buffer))]);
  }

  keepTopK(x: Vec, k: number, byMagnitude: boolean): void {
    const n = x.length;
    if (k >= n) return;
    if (k <= 0) {
      // Nothing kept: copy zeros over x (a buffer that is never written stays 0).
      this.rec.copy(this.zeroBuffer(n), v(x).buffer, 0, n * 4);
      return;
    }
    const state = this.topkState();
    const run = (name: FixedKernel, threads: number, shift = 0) =>
      this.fixed(name, threads, words([n, k, shift, byMagnitude ? 1 : 0]), [v(x).buffer, state]);
    if (this.serialTopK && n <= SERIAL_TOPK_MAX) {
      run('topkSerial', 1);
      return;
    }
    run('topkInit', 1);
    for (const shift of [24, 16, 8, 0]) {
      run('topkHist', n, shift);
      run('topkScan', 1, shift);
    }
    run('topkTies', 1);
    run('topkApply', n);
  }

  async topK(x: Vec, k: number): Promise<TopK> {
    this.check();
    const n = x.length;
    const kk = Math.max(0, Math.min(Math.floor(k), n));
    if (!(kk > 0)) return {ids: new Int32Array(0), values: new Float32Array(0)};
    if (this.hostTopK) return topKHost(this, x, kk);
    const pairs = await this.readWords(this.gpuTopK.queue(v(x).buffer, n, kk), 2 * kk);
    const ids = new Int32Array(kk);
    const values = new Float32Array(kk);
    const bits = new Uint32Array(values.buffer);
    for (let j = 0; j < kk; j++) {
      ids[j] = pairs[2 * j]!;
      bits[j] = pairs[2 * j + 1]!;
    }
    return {ids, values};
  }

  attention(q: Vec, k: Vec, vv: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    const c = cache as GpuKvCache;
    if (c.released) throw new BackendError('webgpu: this KV cache was released');
    if (!(pos >= 0 && pos < c.maxSeqLen)) throw new RangeError(`attention: position ${pos} outside the cache (0..${c.maxSeqLen - 1})`);
    const {nHeads, nKvHeads, headDim} = shape;
    const scores = c.scoreBuffer(nHeads);
    const [keys, values] = [c.keys[layer]!, c.values[layer]!];
    const p = (n: number) => words([n, pos, nHeads, headDim, c.kvDim, nHeads / nKvHeads, c.maxSeqLen, {f: 1 / Math.sqrt(headDim)}]);
    const t = nHeads * (pos + 1);
    this.fixed('attScores', Math.max(t, c.kvDim), p(t), [v(q).buffer, v(k).buffer, v(vv).buffer, keys, values, scores]);
    this.fixed('attSoftmax', nHeads, p(nHeads), [scores]);
    this.fixed('attOut', nHeads * headDim, p(nHeads * headDim), [scores, values, v(out).buffer]);
  }

  readonly attentionRows = LOOPED_ROWS.attentionRows;
  readonly rmsNormRows = LOOPED_ROWS.rmsNormRows;
  readonly layerNormRows = LOOPED_ROWS.layerNormRows;
  readonly activationRows = LOOPED_ROWS.activationRows;
  readonly addRows = LOOPED_ROWS.addRows;
  readonly mulRows = LOOPED_ROWS.mulRows;
  readonly ropeRows = LOOPED_ROWS.ropeRows;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rec.dispose();
    for (const b of this.owned) b.destroy();
    this.owned.clear();
    this.graveyard.length = 0;
    this.device.destroy();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Throws the first device loss or Dawn error, or use after dispose. */
  private check(): void {
    if (this.disposed) throw new BackendError('webgpu: the backend was disposed');
    if (this.failure) throw new BackendError(`webgpu: ${this.failure}`);
  }

  /** Owns a handle's buffers (its `buffers` list may grow later) and frees them once it is unreachable. */
  private track<T extends {buffers: GPUBuffer[]}>(handle: T): T {
    for (const b of handle.buffers) this.owned.add(b);
    this.reaper.register(handle, handle.buffers);
    return handle;
  }

  private ownBuffer(b: GPUBuffer): GPUBuffer {
    this.owned.add(b);
    return b;
  }

  /** Destroys the buffers of collected handles (call right after a submit). */
  private bury(): void {
    for (const b of this.graveyard.splice(0)) {
      if (this.owned.delete(b)) b.destroy();
    }
  }

  /**
   * One thread per element over `threads` elements (0: a single workgroup), bindings numbered
   * from 1. A buffer bound twice becomes one binding of a kernel variant (see aliasPattern).
   */
  private elementwise(pipe: (alias: number[]) => GPUComputePipeline, threads: number, params: Uint32Array, bindings: Binding[]): void {
    const alias = aliasPattern(bindings);
    const numbered: Array<[number, Binding]> = [];
    bindings.forEach((b, i) => alias[i] === i && numbered.push([i + 1, b]));
    const groups = threads === 0 ? ([1, 1] as [number, number]) : this.rec.grid(Math.ceil(threads / WG));
    this.rec.dispatch(pipe(alias), params, numbered, groups);
  }

  private fixed(name: FixedKernel, threads: number, params: Uint32Array, bindings: Binding[]): void {
    this.elementwise((al) => this.pipes.fixed(name, al), threads, params, bindings);
  }

  private dispatchMat(pipeline: GPUComputePipeline, params: Uint32Array, c: GpuMat['chunks'][number], rest: Array<[number, Binding]>, groups: [number, number]): void {
    const bindings: Array<[number, Binding]> = [[1, c.words], ...(c.scales ? [[2, c.scales] as [number, Binding]] : []), ...rest];
    this.rec.dispatch(pipeline, params, bindings, groups);
  }

  /** (position in `rows`, chunk-local row) pairs for each chunk that holds some of the rows. */
  private *pairsByChunk(mat: GpuMat, rows: Int32Array): Generator<[GpuMat['chunks'][number], Uint32Array]> {
    const one = mat.chunks.length === 1;
    for (const c of mat.chunks) {
      const pairs: number[] = [];
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        if (!(r >= 0 && r < mat.rows)) throw new RangeError(`row ${r} outside 0..${mat.rows - 1}`);
        if (one || (r >= c.rowStart && r < c.rowStart + c.rows)) pairs.push(i, r - c.rowStart);
      }
      if (pairs.length) yield [c, Uint32Array.from(pairs)];
    }
  }

  /** Submits everything queued and resolves with the first `n` u32 words of `src`. */
  private async readWords(src: GPUBuffer, n: number): Promise<Uint32Array> {
    const size = Math.max(4, n * 4);
    const staging = this.device.createBuffer({size, usage: USAGE.MAP_READ | USAGE.COPY_DST});
    try {
      this.rec.copy(src, staging, 0, size);
      this.rec.flush();
      this.bury();
      try {
        await staging.mapAsync(MAP_READ, 0, size);
      } catch (error) {
        throw new BackendError(`webgpu: reading a result failed: ${this.failure ?? (error as Error).message}`, {cause: error});
      }
      const out = new Uint32Array(n);
      out.set(new Uint32Array(staging.getMappedRange(0, size), 0, n));
      staging.unmap();
      this.check();
      return out;
    } finally {
      staging.destroy();
    }
  }

  /** keepTopK's state: [prefix, mask, remaining, -, histogram[256]] u32. */
  private topkState(): GPUBuffer {
    this.topkBuffer ??= this.ownBuffer(this.device.createBuffer({size: 260 * 4, usage: USAGE.STORAGE}));
    return this.topkBuffer;
  }

  private zeroBuffer(n: number): GPUBuffer {
    if (!this.zeroVec || this.zeroVec.length < n) this.zeroVec = this.createVector(n) as GpuVec;
    return this.zeroVec.buffer;
  }
}

/**
 * Largest n for keepTopK's one-thread kernel, which loops about 5 n times: llvmpipe silently stops
 * a shader's loops after 65535 iterations in all (larger n take the parallel select).
 */
const SERIAL_TOPK_MAX = 12000;

/** Opens a device (see device.ts for the adapter order) and returns a backend on it. */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  topKShape({threads: opts.topKThreads, chunk: opts.topKChunk}, false); // bad options fail before a device is opened
  return new WebGpuBackend(await openGpu(adapterChoice(opts.adapter)), opts);
}
