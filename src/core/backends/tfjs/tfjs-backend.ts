/**
 * The tfjs backend: @tensorflow/tfjs-core on its wasm engine (XNNPACK, SIMD, one thread) where it
 * loads, on its plain-JS cpu engine otherwise.
 *
 * Memory:
 * - Weights are uploaded once as f32 tensors: tfjs has no bf16/f16 math, so 16-bit checkpoints
 *   take twice their file size here. Each matrix is stored transposed, [cols, rows] = [in, out],
 *   because `matMul(x[1, in], Wt[in, out])` is the one form tfjs-wasm sends to XNNPACK's
 *   fully-connected kernel with the matrix as the packed weights (measured 3-4x faster than
 *   `matMul(W, x[in, 1])`). On its first use XNNPACK packs a second copy of the matrix inside the
 *   wasm heap, so wasm holds about 2x f32 per matrix, and the whole heap is capped at 4 GiB.
 * - matvecRows keeps a row-major host Float32Array of a matrix, made on its first gathered call
 *   (tf.gather is slower than a whole dense matvec on tfjs-wasm): the chosen rows are copied into
 *   one staging block and multiplied in a single matMul.
 * - Vectors are handles holding one tf.Tensor1D. tfjs tensors are immutable, so every kernel
 *   builds a new tensor and the handle disposes the old one: the live tensor count stays flat.
 * - The KV cache lives on the host (a Float32Array per layer); attention and RoPE run on the host
 *   (host-kernels.ts), which is cheaper than the dozen tiny tfjs ops each would take.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Activation} from '../../model/config.js';
import {BackendError} from '../../errors.js';
import {halfToFloat32} from '../../safetensors/index.js';
import type {
  AttentionShape,
  Backend,
  HostMatrix,
  KvCache,
  KvShape,
  Mat,
  OpName,
  RopeTable,
  Vec,
  WeightDtype,
} from '../backend.js';
import {acquireEngine, type Engine, type EngineOptions} from './engine.js';
import {attendHost, ropeAngles, ropeHost, type RopeAngles} from './host-kernels.js';

export type TfjsBackendOptions = EngineOptions;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

class TfVec implements Vec {
  constructor(
    public t: tf.Tensor1D,
    readonly length: number,
  ) {}
}

class TfMat implements Mat {
  /** tfjs holds every matrix as f32, whatever the checkpoint stored. */
  readonly dtype = 'f32' as const;
  readonly bytes: number;
  /** Row-major f32 copy for matvecRows, made on first use. */
  host: Float32Array | null = null;
  constructor(
    readonly rows: number,
    readonly cols: number,
    /** dtype in the checkpoint, before the f32 upload. */
    readonly sourceDtype: WeightDtype,
    /** The matrix transposed: [cols, rows]. */
    public wt: tf.Tensor2D,
  ) {
    this.bytes = rows * cols * 4;
  }
}

class TfKvCache implements KvCache {
  readonly keys: Float32Array[]; // per layer: (maxSeqLen, nKvHeads * headDim)
  readonly values: Float32Array[];
  constructor(readonly shape: KvShape) {
    const size = shape.maxSeqLen * shape.nKvHeads * shape.headDim;
    this.keys = Array.from({length: shape.nLayers}, () => new Float32Array(size));
    this.values = Array.from({length: shape.nLayers}, () => new Float32Array(size));
  }
  get nLayers(): number {
    return this.shape.nLayers;
  }
  get maxSeqLen(): number {
    return this.shape.maxSeqLen;
  }
}

const vt = (x: Vec) => (x as TfVec).t;
const m = (w: Mat) => w as TfMat;

export class TfjsBackend implements Backend {
  readonly name = 'tfjs' as const;
  private readonly vectors = new Set<TfVec>();
  private readonly matrices = new Set<TfMat>();
  /** The last RoPE angles: q and k of every layer share one position per step. */
  private angles: (RopeAngles & {invFreq: Float64Array}) | null = null;
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

  supports(_op: OpName, _dtype?: WeightDtype): boolean {
    return true;
  }

  // ---- memory -------------------------------------------------------------------------------

  uploadMatrix(host: HostMatrix): Mat {
    const {rows, cols} = host;
    const data =
      host.dtype === 'f32'
        ? (host.data as Float32Array)
        : halfToFloat32(host.dtype === 'f16' ? 'F16' : 'BF16', host.data as Uint16Array);
    if (data.length !== rows * cols) {
      throw new BackendError(`uploadMatrix: ${data.length} values for a [${rows}, ${cols}] matrix`);
    }
    // The transpose is a new tensor, so the cpu engine (which keeps the caller's array without
    // copying) never aliases host.data after this returns.
    const wt = tf.tidy(() => tf.transpose(tf.tensor2d(data, [rows, cols])));
    const mat = new TfMat(rows, cols, host.dtype, wt);
    this.matrices.add(mat);
    return mat;
  }

  uploadVector(data: Float32Array): Vec {
    return this.track(tf.tensor1d(data.slice()), data.length);
  }

  createVector(length: number): Vec {
    return this.track(tf.zeros([length]), length);
  }

  createKvCache(shape: KvShape): KvCache {
    return new TfKvCache(shape);
  }

  write(dst: Vec, src: Float32Array): void {
    if (src.length !== dst.length) throw new BackendError(`write: ${src.length} values into a vector of ${dst.length}`);
    this.put(dst, tf.tensor1d(src.slice()));
  }

  async read(src: Vec): Promise<Float32Array> {
    const values = (await vt(src).data()) as Float32Array;
    // wasm hands out a fresh copy of its heap; the cpu engine hands out its own storage.
    return this.engine.name === 'cpu' ? values.slice() : values;
  }

  // ---- kernels ------------------------------------------------------------------------------

  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void {
    const {rows, cols, wt} = m(w);
    this.put(
      out,
      tf.tidy(() => {
        const xRow = tf.reshape(vt(x), [1, cols]);
        const y = bias ? tf.fused.matMul({a: xRow, b: wt, bias: vt(bias)}) : tf.matMul(xRow, wt);
        return tf.reshape(y, [rows]);
      }),
    );
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    const mat = m(w);
    const {cols} = mat;
    const k = rows.length;
    if (k === 0) {
      this.put(out, tf.zeros([0]));
      return;
    }
    const host = this.hostRows(mat);
    const staged = new Float32Array(k * cols); // [k, cols]: the chosen rows, in order
    for (let i = 0; i < k; i++) {
      const r = rows[i]!;
      if (!(r >= 0 && r < mat.rows)) throw new RangeError(`matvecRows: row ${r} outside 0..${mat.rows - 1}`);
      staged.set(host.subarray(r * cols, (r + 1) * cols), i * cols);
    }
    this.put(
      out,
      tf.tidy(() => tf.reshape(tf.matMul(tf.tensor2d(staged, [k, cols]), tf.reshape(vt(x), [cols, 1])), [k])),
    );
  }

  embedRow(w: Mat, row: number, out: Vec): void {
    const {rows, cols, wt} = m(w);
    if (!(row >= 0 && row < rows)) throw new RangeError(`embedRow: row ${row} outside 0..${rows - 1}`);
    // Row `row` of W is column `row` of the stored transpose.
    this.put(out, tf.tidy(() => tf.reshape(tf.slice(wt, [0, row], [cols, 1]), [cols])));
  }

  add(a: Vec, b: Vec, out: Vec): void {
    this.put(out, tf.add(vt(a), vt(b)));
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    this.put(out, tf.mul(vt(a), vt(b)));
  }

  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    this.put(
      out,
      tf.tidy(() => {
        const xs = vt(x);
        const scale = tf.rsqrt(tf.add(tf.mean(tf.square(xs)), eps));
        return tf.mul(tf.mul(xs, scale), vt(weight));
      }),
    );
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    this.put(
      out,
      tf.tidy(() => {
        const xs = vt(x);
        const {mean, variance} = tf.moments(xs);
        const normed = tf.mul(tf.sub(xs, mean), tf.rsqrt(tf.add(variance, eps)));
        return tf.add(tf.mul(normed, vt(weight)), vt(bias));
      }),
    );
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    const xs = vt(x).dataSync() as Float32Array;
    this.put(x, tf.tensor1d(ropeHost(xs, nHeads, table.headDim, this.ropeAnglesFor(table, pos))));
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    this.put(out, tf.tidy(() => activate(kind, vt(x))));
  }

  attention(q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    const c = cache as TfKvCache;
    const kvDim = shape.nKvHeads * shape.headDim;
    if (!(pos >= 0 && pos < c.maxSeqLen)) throw new RangeError(`attention: position ${pos} outside the cache (0..${c.maxSeqLen - 1})`);
    const keys = c.keys[layer]!;
    const values = c.values[layer]!;
    keys.set(vt(k).dataSync() as Float32Array, pos * kvDim);
    values.set(vt(v).dataSync() as Float32Array, pos * kvDim);
    const qs = vt(q).dataSync() as Float32Array;
    this.put(out, tf.tensor1d(attendHost(qs, keys, values, pos, shape)));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const vec of this.vectors) vec.t.dispose();
    for (const mat of this.matrices) {
      mat.wt.dispose();
      mat.host = null;
    }
    this.vectors.clear();
    this.matrices.clear();
    this.angles = null;
    this.engine.release();
  }

  // ---- helpers ------------------------------------------------------------------------------

  private track(t: tf.Tensor1D, length: number): TfVec {
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
    vec.t = t as tf.Tensor1D;
    old.dispose();
  }

  private hostRows(mat: TfMat): Float32Array {
    if (!mat.host) {
      const w = tf.transpose(mat.wt); // back to [rows, cols]
      mat.host = w.dataSync() as Float32Array;
      w.dispose();
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

/** act(x) as tfjs ops (call inside tf.tidy). */
function activate(kind: Activation, x: tf.Tensor): tf.Tensor {
  switch (kind) {
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'relu':
      return tf.relu(x);
    case 'gelu': // exact: 0.5 x (1 + erf(x / sqrt 2))
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'gelu_tanh': // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      return tf.mul(
        tf.mul(x, 0.5),
        tf.add(1, tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), SQRT_2_OVER_PI))),
      );
  }
}

/**
 * Starts tfjs (wasm, or cpu when wasm cannot load or `prefer: 'cpu'`) and returns a backend on it.
 * A wasm failure is reported through `onWarning`, never printed.
 */
export async function createTfjsBackend(opts: TfjsBackendOptions = {}): Promise<TfjsBackend> {
  return new TfjsBackend(await acquireEngine(opts));
}
