/**
 * The reference backend: plain TypeScript with float64 vectors and float64 accumulation. It is
 * slow on purpose and exists as the oracle the fast backends are tested against.
 */
import type {Activation} from '../../model/config.js';
import {
  AttentionShape,
  Backend,
  HostMatrix,
  HostQuantMatrix,
  KvCache,
  KvShape,
  Mat,
  OpName,
  RopeTable,
  TopK,
  Vec,
  dequantizeHost,
  hostMatrixBytes,
  hostMatrixF32,
  LOOPED_BATCH,
  LOOPED_ROWS,
  quantMatrixBytes,
} from '../backend.js';
import type {MatDtype} from '../backend.js';
import {applyActivation} from '../../numeric/activations.js';
import {keepTopKHost, topKHost} from '../host/host-kernels.js';
import {HostKvCache} from '../host/host-kv-cache.js';

class RefVec implements Vec {
  constructor(readonly data: Float64Array) {}
  get length(): number {
    return this.data.length;
  }
}

class RefMat implements Mat {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly dtype: MatDtype,
    readonly data: Float32Array,
    readonly bytes: number,
  ) {}
}

const v = (x: Vec) => (x as RefVec).data;
const m = (w: Mat) => w as RefMat;

export class ReferenceBackend implements Backend {
  readonly name = 'reference' as const;

  describe(): string {
    return 'reference (TypeScript, float64 accumulation)';
  }

  supports(op: OpName): boolean {
    return op !== 'sharedBatch' && op !== 'kvF16'; // batched kernels loop; the KV cache is float64
  }

  /** ggml blocks are dequantised exactly (every block value is a float32): the oracle for the block kernels. */
  uploadMatrix(host: HostMatrix): Mat {
    const data = host.dtype === 'f32' ? Float32Array.from(host.data as Float32Array) : hostMatrixF32(host);
    return new RefMat(host.rows, host.cols, host.dtype, data, hostMatrixBytes(host));
  }

  uploadQuantMatrix(q: HostQuantMatrix): Mat {
    return new RefMat(q.rows, q.cols, `q${q.bits}`, dequantizeHost(q), quantMatrixBytes(q));
  }

  uploadVector(data: Float32Array): Vec {
    return new RefVec(Float64Array.from(data));
  }

  createVector(length: number): Vec {
    return new RefVec(new Float64Array(length));
  }

  readonly createVectors = LOOPED_ROWS.createVectors;

  createKvCache(shape: KvShape): KvCache {
    return new HostKvCache(shape, (n) => new Float64Array(n));
  }

  releaseKvCache(cache: KvCache): void {
    (cache as HostKvCache<Float64Array>).release();
  }

  async readKvCache(cache: KvCache, layer: number, n: number): Promise<{keys: Float32Array; values: Float32Array}> {
    return (cache as HostKvCache<Float64Array>).read(layer, n);
  }

  write(dst: Vec, src: Float32Array): void {
    v(dst).set(src);
  }

  async read(src: Vec): Promise<Float32Array> {
    return Float32Array.from(v(src));
  }

  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void {
    const {rows, cols, data} = m(w);
    const xs = v(x);
    const ys = v(out);
    const b = bias ? v(bias) : undefined;
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      const base = r * cols;
      for (let c = 0; c < cols; c++) acc += data[base + c]! * xs[c]!;
      ys[r] = b ? acc + b[r]! : acc;
    }
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    const {cols, data} = m(w);
    const xs = v(x);
    const ys = v(out);
    for (let i = 0; i < rows.length; i++) {
      let acc = 0;
      const base = rows[i]! * cols;
      for (let c = 0; c < cols; c++) acc += data[base + c]! * xs[c]!;
      ys[i] = acc;
    }
  }

  accumulateRows(w: Mat, rows: Int32Array | null, coef: Vec, out: Vec, bias?: Vec): void {
    const {rows: nRows, cols, data} = m(w);
    const cs = v(coef);
    const ys = v(out);
    if (bias) ys.set(v(bias));
    else ys.fill(0);
    const n = rows ? rows.length : nRows;
    for (let i = 0; i < n; i++) {
      const a = cs[i]!;
      if (a === 0) continue;
      const base = (rows ? rows[i]! : i) * cols;
      for (let c = 0; c < cols; c++) ys[c] = ys[c]! + a * data[base + c]!;
    }
  }

  readonly matvecBatch = LOOPED_BATCH.matvecBatch;
  readonly matvecRowsBatch = LOOPED_BATCH.matvecRowsBatch;
  readonly accumulateRowsBatch = LOOPED_BATCH.accumulateRowsBatch;

  embedRow(w: Mat, row: number, out: Vec): void {
    const {cols, data} = m(w);
    v(out).set(data.subarray(row * cols, (row + 1) * cols));
  }

  add(a: Vec, b: Vec, out: Vec): void {
    const [x, y, o] = [v(a), v(b), v(out)];
    for (let i = 0; i < o.length; i++) o[i] = x[i]! + y[i]!;
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    const [x, y, o] = [v(a), v(b), v(out)];
    for (let i = 0; i < o.length; i++) o[i] = x[i]! * y[i]!;
  }

  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    const [xs, w, o] = [v(x), v(weight), v(out)];
    let ss = 0;
    for (let i = 0; i < xs.length; i++) ss += xs[i]! * xs[i]!;
    const scale = 1 / Math.sqrt(ss / xs.length + eps);
    for (let i = 0; i < xs.length; i++) o[i] = xs[i]! * scale * w[i]!;
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    const [xs, w, b, o] = [v(x), v(weight), v(bias), v(out)];
    const n = xs.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += xs[i]!;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (xs[i]! - mean) ** 2;
    const scale = 1 / Math.sqrt(variance / n + eps);
    for (let i = 0; i < n; i++) o[i] = (xs[i]! - mean) * scale * w[i]! + b[i]!;
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    const xs = v(x);
    const {headDim, invFreq} = table;
    const half = headDim / 2;
    for (let h = 0; h < nHeads; h++) {
      const base = h * headDim;
      for (let i = 0; i < half; i++) {
        const angle = pos * invFreq[i]!;
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const a = xs[base + i]!;
        const b = xs[base + i + half]!;
        xs[base + i] = a * cos - b * sin;
        xs[base + i + half] = b * cos + a * sin;
      }
    }
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    applyActivation(kind, v(x), v(out));
  }

  keepTopK(x: Vec, k: number, byMagnitude: boolean): void {
    keepTopKHost(v(x), k, byMagnitude);
  }

  topK(x: Vec, k: number): Promise<TopK> {
    return topKHost(this, x, k);
  }

  attention(q: Vec, k: Vec, vv: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    const c = cache as HostKvCache<Float64Array>;
    const {nHeads, nKvHeads, headDim} = shape;
    const kvDim = nKvHeads * headDim;
    c.append(layer, pos, v(k), v(vv));
    const keys = c.keys[layer]!;
    const values = c.values[layer]!;
    const qs = v(q);
    const o = v(out);
    const scores = new Float64Array(pos + 1);
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    for (let h = 0; h < nHeads; h++) {
      const kvOff = Math.floor(h / group) * headDim;
      let max = -Infinity;
      for (let t = 0; t <= pos; t++) {
        let dot = 0;
        for (let i = 0; i < headDim; i++) dot += qs[h * headDim + i]! * keys[t * kvDim + kvOff + i]!;
        scores[t] = dot * scale;
        if (scores[t]! > max) max = scores[t]!;
      }
      let sum = 0;
      for (let t = 0; t <= pos; t++) {
        scores[t] = Math.exp(scores[t]! - max);
        sum += scores[t]!;
      }
      for (let i = 0; i < headDim; i++) {
        let acc = 0;
        for (let t = 0; t <= pos; t++) acc += scores[t]! * values[t * kvDim + kvOff + i]!;
        o[h * headDim + i] = acc / sum;
      }
    }
  }

  readonly attentionRows = LOOPED_ROWS.attentionRows;
  readonly rmsNormRows = LOOPED_ROWS.rmsNormRows;
  readonly layerNormRows = LOOPED_ROWS.layerNormRows;
  readonly activationRows = LOOPED_ROWS.activationRows;
  readonly addRows = LOOPED_ROWS.addRows;
  readonly mulRows = LOOPED_ROWS.mulRows;
  readonly ropeRows = LOOPED_ROWS.ropeRows;

  dispose(): void {}
}
