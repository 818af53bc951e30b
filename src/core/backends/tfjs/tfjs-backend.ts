/**
 * The tfjs backend: @tensorflow/tfjs-core on its wasm engine (XNNPACK, SIMD, one thread) where it
 * loads, on its plain-JS cpu engine otherwise.
 *
 * Where each thing lives, and why (measured on tfjs 4.22, Node 20):
 * - Weights are f32: tfjs has no bf16/f16 math, so 16-bit checkpoints take twice their file size.
 *   A matrix is uploaded transposed, [cols, rows] = [in, out], because `matMul(x[1, in],
 *   Wt[in, out])` is the form tfjs-wasm hands to XNNPACK's fully-connected kernel with the matrix
 *   as packed weights (3-4x faster than `matMul(W, x[in, 1])`). On the first matvec XNNPACK packs
 *   a second copy inside the wasm heap, so a dense matrix costs 2x its f32 size there; the heap is
 *   capped at 4 GiB, which limits tfjs-wasm to models of about 450M parameters.
 * - Rows of a matrix (embedRow, matvecRows) come from a row-major host copy made on first use:
 *   on tfjs-wasm, tf.slice and tf.gather copy the whole tensor out of the heap first. A matrix
 *   read by rows before any matvec (an untied embedding table) then gives up its tensor; one used
 *   both ways (tied embeddings, HiRE's gathered rows) keeps both. matvecRows copies the chosen
 *   rows into one block and runs a single matMul.
 * - Vectors are handles holding one tf.Tensor2D [1, n]: a row, so matvec needs no reshape. tfjs
 *   tensors are immutable, so every kernel builds a new tensor and the handle disposes the old
 *   one: the live tensor count stays flat.
 * - The KV cache lives on the host (a Float32Array per layer); attention, RoPE and the norms run
 *   on the host (host-kernels.ts), where they cost less than tfjs's per-op dispatch.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Activation} from '../../model/config.js';
import {BackendError} from '../../errors.js';
import type {
  AttentionShape,
  Backend,
  BlockFormat,
  HostMatrix,
  HostQuantMatrix,
  KvCache,
  KvShape,
  Mat,
  MatDtype,
  OpName,
  RopeTable,
  TopK,
  Vec,
  WeightDtype,
} from '../backend.js';
import {dequantizeHost, hostMatrixF32, LOOPED_BATCH, LOOPED_ROWS} from '../backend.js';
import {HostKvCache} from '../host/host-kv-cache.js';
import {acquireEngine, type Engine, type EngineOptions} from './engine.js';
import {activate, row} from './ops.js';
import {
  attendHost,
  keepTopKHost,
  layerNormHost,
  rmsNormHost,
  ropeAngles,
  ropeHost,
  topKHost,
  transposeHost,
  type RopeAngles,
} from '../host/host-kernels.js';

export type TfjsBackendOptions = EngineOptions;

/**
 * Weight bytes (counted twice, for XNNPACK's packed copy) the wasm heap may hold: its 4 GiB cap
 * less room for vectors and staging. Past the cap tfjs-wasm's malloc fails silently and later
 * kernels read out of bounds, so we refuse first.
 */
const WASM_WEIGHT_LIMIT = 4 * 2 ** 30 - 256 * 2 ** 20;

class TfVec implements Vec {
  constructor(
    public t: tf.Tensor2D, // [1, length]
    readonly length: number,
  ) {}
}

class TfMat implements Mat {
  /** tfjs holds every matrix as f32, whatever the checkpoint stored. */
  readonly dtype = 'f32' as const;
  readonly bytes: number;
  /** The matrix transposed, [cols, rows]; null only for a matrix read by rows and never by matvec. */
  wt: tf.Tensor2D | null = null;
  /** Row-major f32 copy, made by the first embedRow or matvecRows. */
  host: Float32Array | null = null;
  /** Whether matvec has used wt (then XNNPACK holds a packed copy, and wt stays). */
  multiplied = false;
  constructor(
    readonly rows: number,
    readonly cols: number,
    /** dtype in the checkpoint, before the f32 upload. */
    readonly sourceDtype: WeightDtype | BlockFormat,
  ) {
    this.bytes = rows * cols * 4;
  }
}

const vt = (x: Vec) => (x as TfVec).t;
/** The vector's values, read-only: on the cpu engine this is the engine's own storage. */
const hv = (x: Vec) => (x as TfVec).t.dataSync() as Float32Array;
const m = (w: Mat) => w as TfMat;

export class TfjsBackend implements Backend {
  readonly name = 'tfjs' as const;
  private readonly vectors = new Set<TfVec>();
  private readonly matrices = new Set<TfMat>();
  /** The last RoPE angles: q and k of every layer share one position per step. */
  private angles: (RopeAngles & {invFreq: Float64Array}) | null = null;
  /** Reused block for matvecRows' chosen rows (fresh arrays cost more than the copy itself). */
  private staging = new Float32Array(0);
  /** Bytes of weight tensors in the wasm heap, counting XNNPACK's packed copy. */
  private heapWeightBytes = 0;
  private disposed = false;

  constructor(private readonly engine: Engine) {}

  /** The tfjs engine doing the work: 'wasm' or the 'cpu' fallback. */
  get engineName(): Engine['name'] {
    return this.engine.name;
  }

  describe(): string {
    const engine = this.engine.name === 'wasm' ? `wasm${this.engine.simd ? ' simd' : ''}, 1 thread` : 'cpu';
    return `tfjs (${engine}; weights held as f32)`;
  }

  supports(op: OpName, _dtype?: MatDtype): boolean {
    return op !== 'kvF16';
  }

  // ---- memory -------------------------------------------------------------------------------

  uploadMatrix(host: HostMatrix): Mat {
    const {rows, cols} = host;
    // ggml blocks are dequantised here (exactly): tfjs has no block kernels, so a q8_0 / q4_0
    // model reads f32 weights on this backend (correct, but none of the bandwidth saving)
    const data = hostMatrixF32(host);
    if (data.length !== rows * cols) {
      throw new BackendError(`uploadMatrix: ${data.length} values for a [${rows}, ${cols}] matrix`);
    }
    const mat = new TfMat(rows, cols, host.dtype);
    this.setTransposed(mat, data);
    this.matrices.add(mat);
    return mat;
  }

  /** tfjs has no integer matmul here: the matrix is dequantised and held as f32. */
  uploadQuantMatrix(q: HostQuantMatrix): Mat {
    return this.uploadMatrix({dtype: 'f32', rows: q.rows, cols: q.cols, data: dequantizeHost(q)});
  }

  uploadVector(data: Float32Array): Vec {
    return this.track(row(data.slice()), data.length);
  }

  createVector(length: number): Vec {
    return this.track(tf.zeros([1, length]), length);
  }

  readonly createVectors = LOOPED_ROWS.createVectors;

  createKvCache(shape: KvShape): KvCache {
    return new HostKvCache(shape, (n) => new Float32Array(n));
  }

  releaseKvCache(cache: KvCache): void {
    (cache as HostKvCache<Float32Array>).release();
  }

  async readKvCache(cache: KvCache, layer: number, n: number): Promise<{keys: Float32Array; values: Float32Array}> {
    return (cache as HostKvCache<Float32Array>).read(layer, n);
  }

  write(dst: Vec, src: Float32Array): void {
    if (src.length !== dst.length) throw new BackendError(`write: ${src.length} values into a vector of ${dst.length}`);
    this.put(dst, row(src.slice()));
  }

  async read(src: Vec): Promise<Float32Array> {
    const values = (await vt(src).data()) as Float32Array;
    // wasm hands out a fresh copy of its heap; the cpu engine hands out its own storage.
    return this.engine.name === 'cpu' ? values.slice() : values;
  }

  // ---- kernels ------------------------------------------------------------------------------

  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void {
    const wt = this.multiplier(m(w));
    // Not tf.fused.matMul: tfjs-wasm wants a bias whose data was created 1-D, and ours are [1, n].
    this.put(out, bias ? tf.tidy(() => tf.add(tf.matMul(vt(x), wt), vt(bias))) : tf.matMul(vt(x), wt));
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    const mat = m(w);
    const {cols} = mat;
    const k = rows.length;
    if (k === 0) {
      this.put(out, tf.zeros([1, 0]));
      return;
    }
    const staged = this.stageRows(mat, rows, 'matvecRows');
    // [k, cols] x [cols, 1]: the x-as-weights form, since the staged block changes every call.
    // The staged tensor dies inside the tidy, so reusing the buffer is safe on both engines.
    this.put(
      out,
      tf.tidy(() => tf.reshape(tf.matMul(tf.tensor2d(staged, [k, cols]), tf.reshape(vt(x), [cols, 1])), [1, k])),
    );
  }

  accumulateRows(w: Mat, rows: Int32Array | null, coef: Vec, out: Vec, bias?: Vec): void {
    const mat = m(w);
    const {cols} = mat;
    let result: tf.Tensor2D;
    if (rows === null) {
      // coef [1, R] x W [R, cols], W held transposed as wt [cols, R].
      const wt = this.multiplier(mat);
      result = tf.matMul(vt(coef), wt, false, true);
    } else {
      const k = rows.length;
      const staged = this.stageRows(mat, rows, 'accumulateRows');
      result = k === 0 ? tf.zeros([1, cols]) : tf.tidy(() => tf.matMul(vt(coef), tf.tensor2d(staged, [k, cols])));
    }
    this.put(out, bias ? tf.tidy(() => tf.add(result, vt(bias))) : result);
    if (bias) result.dispose();
  }

  /** One matMul for the block, X [n, cols] x Wt [cols, rows] (XNNPACK reads W once), split into rows. */
  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec): void {
    if (xs.length === 1) return this.matvec(w, xs[0]!, outs[0]!, bias);
    const wt = this.multiplier(m(w));
    this.putRows(outs, tf.tidy(() => {
      const y = tf.matMul(tf.concat(xs.map(vt), 0), wt);
      return bias ? tf.add(y, vt(bias)) : y;
    }));
  }

  /** The rows gathered once for the block: [k, cols] x X^T [cols, n], one row per vector after a transpose. */
  matvecRowsBatch(w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[]): void {
    if (xs.length === 1 || rows.length === 0) return LOOPED_BATCH.matvecRowsBatch.call(this, w, rows, xs, outs);
    const staged = this.stageRows(m(w), rows, 'matvecRowsBatch');
    this.putRows(outs, tf.tidy(() => tf.transpose(tf.matMul(tf.tensor2d(staged, [rows.length, m(w).cols]), tf.concat(xs.map(vt), 0), false, true))));
  }

  /** C [n, k] x W[rows] [k, cols] (or C [n, R] x W with rows null) in one matMul. */
  accumulateRowsBatch(w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec): void {
    if (coefs.length === 1 || rows?.length === 0) return LOOPED_BATCH.accumulateRowsBatch.call(this, w, rows, coefs, outs, bias);
    const mat = m(w);
    const right = rows === null ? this.multiplier(mat) : null;
    const staged = rows === null ? null : this.stageRows(mat, rows, 'accumulateRowsBatch');
    this.putRows(outs, tf.tidy(() => {
      const c = tf.concat(coefs.map(vt), 0);
      const y = right ? tf.matMul(c, right, false, true) : tf.matMul(c, tf.tensor2d(staged!, [rows!.length, mat.cols]));
      return bias ? tf.add(y, vt(bias)) : y;
    }));
  }

  embedRow(w: Mat, index: number, out: Vec): void {
    const mat = m(w);
    const {rows, cols} = mat;
    if (!(index >= 0 && index < rows)) throw new RangeError(`embedRow: row ${index} outside 0..${rows - 1}`);
    this.put(out, row(this.hostRows(mat).slice(index * cols, (index + 1) * cols)));
  }

  add(a: Vec, b: Vec, out: Vec): void {
    this.put(out, tf.add(vt(a), vt(b)));
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    this.put(out, tf.mul(vt(a), vt(b)));
  }

  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    this.put(out, row(rmsNormHost(hv(x), hv(weight), eps)));
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    this.put(out, row(layerNormHost(hv(x), hv(weight), hv(bias), eps)));
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    this.put(x, row(ropeHost(hv(x), nHeads, table.headDim, this.ropeAnglesFor(table, pos))));
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    // Transcendentals stay in tfjs: XNNPACK's vectorised sigmoid/tanh beat Math.exp per element.
    this.put(out, tf.tidy(() => activate(kind, vt(x))));
  }

  /** On the host: one read and one upload of a hiddenDim vector, cheaper than tf.topk here. */
  keepTopK(x: Vec, k: number, byMagnitude: boolean): void {
    const values = (vt(x).dataSync() as Float32Array).slice();
    keepTopKHost(values, k, byMagnitude);
    this.put(x, row(values));
  }

  topK(x: Vec, k: number): Promise<TopK> {
    return topKHost(this, x, k);
  }

  attention(q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    const c = cache as HostKvCache<Float32Array>;
    if (!(pos >= 0 && pos < c.maxSeqLen)) {
      throw new RangeError(`attention: position ${pos} outside the cache (0..${c.maxSeqLen - 1})`);
    }
    c.append(layer, pos, hv(k), hv(v));
    this.put(out, row(attendHost(hv(q), c.keys[layer]!, c.values[layer]!, pos, shape)));
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
    for (const vec of this.vectors) vec.t.dispose();
    for (const mat of this.matrices) {
      this.dropTransposed(mat);
      mat.host = null;
    }
    this.vectors.clear();
    this.matrices.clear();
    this.angles = null;
    this.staging = new Float32Array(0);
    this.engine.release();
  }

  // ---- helpers ------------------------------------------------------------------------------

  private track(t: tf.Tensor2D, length: number): TfVec {
    const vec = new TfVec(t, length);
    this.vectors.add(vec);
    return vec;
  }

  /** Gives `out` its new tensor and frees the old one (after the new one was computed from it). */
  private put(out: Vec, t: tf.Tensor): void {
    const vec = out as TfVec;
    if (t.size !== vec.length) {
      t.dispose();
      throw new BackendError(`tfjs kernel produced ${t.size} values for a vector of ${vec.length}`);
    }
    const old = vec.t;
    vec.t = t as tf.Tensor2D;
    old.dispose();
  }

  /** Splits a [n, len] block into the n output vectors (and frees the block). */
  private putRows(outs: Vec[], block: tf.Tensor): void {
    const parts = tf.split(block, outs.length, 0);
    block.dispose();
    parts.forEach((p, i) => this.put(outs[i]!, p));
  }

  /** The chosen rows of W, in order, as [k, cols] in the reused staging block (valid until the next call). */
  private stageRows(mat: TfMat, rows: Int32Array, what: string): Float32Array {
    const {cols} = mat;
    const k = rows.length;
    const host = this.hostRows(mat);
    if (this.staging.length < k * cols) this.staging = new Float32Array(k * cols);
    const staged = this.staging.subarray(0, k * cols);
    for (let i = 0; i < k; i++) {
      const r = rows[i]!;
      if (!(r >= 0 && r < mat.rows)) throw new RangeError(`${what}: row ${r} outside 0..${mat.rows - 1}`);
      staged.set(host.subarray(r * cols, (r + 1) * cols), i * cols);
    }
    return staged;
  }

  /** Uploads `rowMajor` ([rows, cols], not kept) as the [cols, rows] tensor. */
  private setTransposed(mat: TfMat, rowMajor: Float32Array): void {
    if (this.engine.name === 'wasm') {
      const need = this.heapWeightBytes + 2 * mat.bytes;
      if (need > WASM_WEIGHT_LIMIT) {
        throw new BackendError(
          `the model does not fit tfjs-wasm's 4 GiB heap, which holds each weight matrix twice (f32 and ` +
            `XNNPACK's packed copy): ${(need / 2 ** 30).toFixed(2)} GiB so far; use the cpu backend for models this large`,
        );
      }
      this.heapWeightBytes = need;
    }
    // A fresh array: the cpu engine keeps the array it is given without copying.
    mat.wt = tf.tensor2d(transposeHost(rowMajor, mat.rows, mat.cols), [mat.cols, mat.rows]);
  }

  private dropTransposed(mat: TfMat): void {
    if (!mat.wt) return;
    mat.wt.dispose();
    mat.wt = null;
    if (this.engine.name === 'wasm') this.heapWeightBytes -= 2 * mat.bytes;
  }

  /** The [cols, rows] tensor for matvec (rebuilt from the host copy if rows-only use dropped it). */
  private multiplier(mat: TfMat): tf.Tensor2D {
    if (!mat.wt) this.setTransposed(mat, mat.host!);
    mat.multiplied = true;
    return mat.wt!;
  }

  /** The row-major host copy, made from the tensor on first use. */
  private hostRows(mat: TfMat): Float32Array {
    if (!mat.host) {
      mat.host = transposeHost(mat.wt!.dataSync() as Float32Array, mat.cols, mat.rows);
      // Read by rows before any matvec: an embedding table. Keep one copy, not two.
      if (!mat.multiplied) this.dropTransposed(mat);
    }
    return mat.host;
  }

  private ropeAnglesFor(table: RopeTable, pos: number): RopeAngles {
    const a = this.angles;
    if (a && a.pos === pos && a.invFreq === table.invFreq) return a;
    this.angles = {...ropeAngles(table.invFreq, pos), invFreq: table.invFreq};
    return this.angles;
  }
}

/**
 * Starts tfjs (wasm, or cpu when wasm cannot load or `prefer: 'cpu'`) and returns a backend on it.
 * A wasm failure is reported through `onWarning`, never printed.
 */
export async function createTfjsBackend(opts: TfjsBackendOptions = {}): Promise<TfjsBackend> {
  return new TfjsBackend(await acquireEngine(opts));
}
