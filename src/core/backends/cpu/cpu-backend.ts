/**
 * The `cpu` backend: weights live in one shared WebAssembly memory at their stored width (a bf16
 * checkpoint stays bf16) and every weight matvec runs in the WebAssembly SIMD kernels split over
 * worker threads. The small per-token work (norms, RoPE, attention, activations) runs in JS on
 * views of the same memory: profiling shows it is a few percent of a step at these sizes.
 *
 * Kernel calls are synchronous, except that one whose worker threads are more than SYNC_WAIT_MS
 * behind the calling thread is left running, so that a slow or hung worker does not block the
 * event loop.
 * Every operation here first asks `kernels.queue.busy`: while a call is running, the operation is
 * queued behind it (with copies of the caller's arrays) and read() / topK() wait for the queue.
 */
import type {Activation} from '../../model/config.js';
import {applyActivation} from '../../numeric/activations.js';
import {attendHost, keepTopKHost, layerNormHost, rmsNormHost, ropeAngles, ropeHost, topKHost} from '../host/host-kernels.js';
import type {
  AttentionShape,
  Backend,
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
} from '../backend.js';
import {dequantizeHost, hostMatrixBytes, quantMatrixBytes} from '../backend.js';
import {BLOCK_BYTES, isBlockFormat} from '../../numeric/ggml-quant.js';
import {BlockKernels, blocksOf, type BlockActivations} from './block-kernels.js';
import {CpuKernels, type DenseDtype} from './kernels.js';
import type {OpQueue} from './op-queue.js';
import {HostKvCache} from '../host/host-kv-cache.js';
import {BackendError} from '../../errors.js';

class CpuVec implements Vec {
  constructor(
    readonly ptr: number,
    readonly length: number,
  ) {}
}

class CpuMat implements Mat {
  constructor(
    readonly ptr: number,
    readonly rows: number,
    readonly cols: number,
    readonly dtype: MatDtype,
    readonly bytes: number,
    /** Quantised matrices: their scales and group size. */
    readonly quant?: {scales: number; groupSize: number},
  ) {}
}

export interface CpuBackendOptions {
  threads?: number;
  /**
   * How the ggml block (q8_0, q4_0) dot products take the activations: 'f32' (default: agrees
   * with the reference to f32 rounding) or 'int16' (rounded to 16 bits per 32 columns first:
   * about twice the compute rate, up to ~1e-3 relative off on the logits; block-kernels.ts).
   */
  blockActivations?: BlockActivations;
}

/**
 * Longest one kernel call blocks the event loop waiting for its workers after the calling thread
 * finished its own part: workers normally finish within well under 1 ms of it, so only a starved
 * or hung worker goes past this.
 */
export const SYNC_WAIT_MS = 10;

export async function createCpuBackend(opts: CpuBackendOptions = {}): Promise<CpuBackend> {
  return new CpuBackend(await CpuKernels.create({threads: opts.threads, syncWaitMs: SYNC_WAIT_MS}), opts.blockActivations);
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  /** Scratch for row ids of matvecRows; grown on demand. */
  private ids: {ptr: number; capacity: number} = {ptr: 0, capacity: 0};

  /** Work queued behind a kernel call that is still running (see op-queue.ts). */
  private readonly q: OpQueue;
  /** Kernels on ggml block matrices (q8_0, q4_0). */
  private readonly blocks: BlockKernels;

  constructor(
    readonly kernels: CpuKernels,
    blockActivations: BlockActivations = 'f32',
  ) {
    this.q = kernels.queue;
    this.blocks = new BlockKernels(kernels, blockActivations);
  }

  describe(): string {
    const t = this.kernels.threads;
    const int16 = this.blocks.activations === 'int16' ? '; int16 activations on block weights' : '';
    return `cpu (wasm simd, ${t} thread${t === 1 ? '' : 's'}${int16})`;
  }

  /** int2 matrices are held dequantised (f32): correct, but not a saving. */
  supports(op: OpName, dtype?: MatDtype): boolean {
    // batched kernels exist for dense and ggml block weights; the predictors' q8 / q4 loop over the vectors
    if (op === 'sharedBatch') return dtype === undefined || dtype === 'f32' || dtype === 'bf16' || dtype === 'f16' || isBlockFormat(dtype);
    return dtype !== 'q2';
  }

  uploadMatrix(m: HostMatrix): Mat {
    if (isBlockFormat(m.dtype)) blocksOf(m.cols);
    const bytes = hostMatrixBytes(m);
    const ptr = this.kernels.alloc(bytes);
    this.put(ptr, new Uint8Array(m.data.buffer, m.data.byteOffset, bytes));
    return new CpuMat(ptr, m.rows, m.cols, m.dtype, bytes);
  }

  uploadQuantMatrix(q: HostQuantMatrix): Mat {
    if (q.bits === 2) return this.uploadMatrix({dtype: 'f32', rows: q.rows, cols: q.cols, data: dequantizeHost(q)});
    const data = this.kernels.alloc(q.data.byteLength);
    this.put(data, q.data);
    const scales = this.kernels.alloc(q.scales.byteLength);
    this.put(scales, new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength));
    return new CpuMat(data, q.rows, q.cols, `q${q.bits}`, quantMatrixBytes(q), {scales, groupSize: q.groupSize});
  }

  uploadVector(data: Float32Array): Vec {
    const v = this.createVector(data.length);
    this.write(v, data);
    return v;
  }

  createVector(length: number): Vec {
    return new CpuVec(this.kernels.alloc(Math.max(4, length * 4)), length);
  }

  createKvCache(shape: KvShape): KvCache {
    return new HostKvCache(shape, (n) => new Float32Array(n));
  }

  write(dst: Vec, src: Float32Array): void {
    if (this.q.busy) {
      const copy = src.slice();
      return this.q.later(() => this.write(dst, copy));
    }
    this.f32(dst).set(src);
  }

  async read(src: Vec): Promise<Float32Array> {
    if (!this.q.busy) return Float32Array.from(this.f32(src));
    let values: Float32Array | undefined;
    this.q.later(() => (values = Float32Array.from(this.f32(src))));
    await this.q.settle();
    return values!;
  }

  /** While set, a read() or topK() waiting for slow workers rejects with AbortError once `signal` fires. */
  abortWaits(signal: AbortSignal | undefined): void {
    this.q.abortWaits(signal);
  }

  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void {
    if (this.q.busy) return this.q.later(() => this.matvec(w, x, out, bias));
    const m = w as CpuMat;
    const [xp, yp] = [(x as CpuVec).ptr, (out as CpuVec).ptr];
    if (isBlockFormat(m.dtype)) this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, xp, yp, 1, null);
    else if (m.dtype === 'q8') this.kernels.matvecQ8(m.ptr, m.quant!.scales, m.rows, m.cols, m.quant!.groupSize, xp, yp);
    else if (m.dtype === 'q4') this.kernels.matvecQ4(m.ptr, m.quant!.scales, m.rows, m.cols, m.quant!.groupSize, xp, yp);
    else this.kernels.matvec(m.dtype as DenseDtype, m.ptr, m.rows, m.cols, xp, yp);
    if (bias) this.add(out, bias, out);
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    if (this.q.busy) {
      const copy = rows.slice();
      return this.q.later(() => this.matvecRows(w, copy, x, out));
    }
    const m = w as CpuMat;
    const ids = this.idScratch(rows.length);
    this.kernels.i32(ids, rows.length).set(rows);
    if (isBlockFormat(m.dtype)) return this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, (x as CpuVec).ptr, (out as CpuVec).ptr, 1, {ptr: ids, n: rows.length});
    this.kernels.matvecRows(denseDtype(m, 'matvecRows'), m.ptr, m.cols, ids, rows.length, (x as CpuVec).ptr, (out as CpuVec).ptr, m.rows);
  }

  accumulateRows(w: Mat, rows: Int32Array | null, coef: Vec, out: Vec, bias?: Vec): void {
    if (this.q.busy) {
      const copy = rows && rows.slice();
      return this.q.later(() => this.accumulateRows(w, copy, coef, out, bias));
    }
    const m = w as CpuMat;
    const n = rows ? rows.length : m.rows;
    let ids = 0;
    if (rows) {
      ids = this.idScratch(rows.length);
      this.kernels.i32(ids, rows.length).set(rows);
    }
    const [cp, yp] = [(coef as CpuVec).ptr, (out as CpuVec).ptr];
    if (isBlockFormat(m.dtype)) this.blocks.accumulateRows(m.dtype, m.ptr, m.rows, blocksOf(m.cols), ids, n, cp, yp);
    else this.kernels.accumulateRows(denseDtype(m, 'accumulateRows'), m.ptr, m.rows, m.cols, ids, n, cp, yp);
    if (bias) this.add(out, bias, out);
  }

  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec): void {
    if (this.q.busy) {
      const [xc, oc] = [[...xs], [...outs]];
      return this.q.later(() => this.matvecBatch(w, xc, oc, bias));
    }
    const m = w as CpuMat;
    if (m.dtype === 'q8' || m.dtype === 'q4' || m.dtype === 'q2' || xs.length === 1) {
      xs.forEach((x, b) => this.matvec(w, x, outs[b]!, bias));
      return;
    }
    this.batched(xs, m.cols, outs, m.rows, (xp, yp) =>
      isBlockFormat(m.dtype)
        ? this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, xp, yp, xs.length, null)
        : this.kernels.matvecBatch(denseDtype(m, 'matvecBatch'), m.ptr, m.rows, m.cols, xp, yp, xs.length),
    );
    if (bias) for (const o of outs) this.add(o, bias, o);
  }

  matvecRowsBatch(w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[]): void {
    if (this.q.busy) {
      const [rc, xc, oc] = [rows.slice(), [...xs], [...outs]];
      return this.q.later(() => this.matvecRowsBatch(w, rc, xc, oc));
    }
    const m = w as CpuMat;
    if (xs.length === 1 || rows.length === 0) {
      xs.forEach((x, b) => this.matvecRows(w, rows, x, outs[b]!));
      return;
    }
    const ids = this.idScratch(rows.length);
    this.kernels.i32(ids, rows.length).set(rows);
    this.batched(xs, m.cols, outs, rows.length, (xp, yp) =>
      isBlockFormat(m.dtype)
        ? this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, xp, yp, xs.length, {ptr: ids, n: rows.length})
        : this.kernels.matvecRowsBatch(denseDtype(m, 'matvecRowsBatch'), m.ptr, m.rows, m.cols, ids, rows.length, xp, yp, xs.length),
    );
  }

  accumulateRowsBatch(w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec): void {
    if (this.q.busy) {
      const [rc, cc, oc] = [rows && rows.slice(), [...coefs], [...outs]];
      return this.q.later(() => this.accumulateRowsBatch(w, rc, cc, oc, bias));
    }
    const m = w as CpuMat;
    const n = rows ? rows.length : m.rows;
    if (coefs.length === 1) {
      this.accumulateRows(w, rows, coefs[0]!, outs[0]!, bias);
      return;
    }
    let ids = 0;
    if (rows) {
      ids = this.idScratch(rows.length);
      this.kernels.i32(ids, rows.length).set(rows);
    }
    this.batched(coefs, n, outs, m.cols, (cp, yp) =>
      isBlockFormat(m.dtype)
        ? this.blocks.accumulateRowsBatch(m.dtype, m.ptr, m.rows, blocksOf(m.cols), ids, n, cp, yp, coefs.length)
        : this.kernels.accumulateRowsBatch(denseDtype(m, 'accumulateRowsBatch'), m.ptr, m.rows, m.cols, ids, n, cp, yp, coefs.length),
    );
    if (bias) for (const o of outs) this.add(o, bias, o);
  }

  /** Packs ins ([nb] vectors of inLen) into one block, runs fn(inBlock, outBlock), unpacks outs. */
  private batched(ins: Vec[], inLen: number, outs: Vec[], outLen: number, fn: (inPtr: number, outPtr: number) => void): void {
    const k = this.kernels;
    const mark = k.mark();
    try {
      const nb = ins.length;
      const inPtr = k.alloc(nb * inLen * 4);
      const outPtr = k.alloc(nb * outLen * 4);
      const block = k.f32(inPtr, nb * inLen);
      ins.forEach((v, b) => block.set(this.f32(v), b * inLen));
      fn(inPtr, outPtr);
      // the out block is read when the call is over (reset below only moves the arena's top)
      this.q.later(() => {
        const res = k.f32(outPtr, nb * outLen);
        outs.forEach((v, b) => this.f32(v).set(res.subarray(b * outLen, (b + 1) * outLen)));
      });
    } finally {
      k.reset(mark);
    }
  }

  embedRow(w: Mat, row: number, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.embedRow(w, row, out));
    const m = w as CpuMat;
    const o = out as CpuVec;
    if (isBlockFormat(m.dtype)) {
      const nb = blocksOf(m.cols);
      return this.blocks.widen(m.dtype, m.ptr + row * nb * BLOCK_BYTES[m.dtype], o.ptr, nb);
    }
    const dtype = denseDtype(m, 'embedRow');
    if (dtype === 'f32') {
      this.f32(o).set(this.kernels.f32(m.ptr + row * m.cols * 4, m.cols));
    } else {
      this.kernels.widen(dtype, m.ptr + row * m.cols * 2, o.ptr, m.cols);
    }
  }

  add(a: Vec, b: Vec, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.add(a, b, out));
    const [x, y, o] = [this.f32(a), this.f32(b), this.f32(out)];
    for (let i = 0; i < o.length; i++) o[i] = x[i]! + y[i]!;
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.mul(a, b, out));
    const [x, y, o] = [this.f32(a), this.f32(b), this.f32(out)];
    for (let i = 0; i < o.length; i++) o[i] = x[i]! * y[i]!;
  }

  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.rmsNorm(x, weight, eps, out));
    this.f32(out).set(rmsNormHost(this.f32(x), this.f32(weight), eps));
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.layerNorm(x, weight, bias, eps, out));
    this.f32(out).set(layerNormHost(this.f32(x), this.f32(weight), this.f32(bias), eps));
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    if (this.q.busy) return this.q.later(() => this.rope(x, nHeads, pos, table));
    const xs = this.f32(x);
    xs.set(ropeHost(xs, nHeads, table.headDim, ropeAngles(table.invFreq, pos)));
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.activation(kind, x, out));
    applyActivation(kind, this.f32(x), this.f32(out));
  }

  keepTopK(x: Vec, k: number, byMagnitude: boolean): void {
    if (this.q.busy) return this.q.later(() => this.keepTopK(x, k, byMagnitude));
    keepTopKHost(this.f32(x), k, byMagnitude);
  }

  topK(x: Vec, k: number): Promise<TopK> {
    return topKHost(this, x, k);
  }

  attention(q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    if (this.q.busy) return this.q.later(() => this.attention(q, k, v, cache, layer, pos, shape, out));
    const c = cache as HostKvCache<Float32Array>;
    c.append(layer, pos, this.f32(k), this.f32(v));
    this.f32(out).set(attendHost(this.f32(q), c.keys[layer]!, c.values[layer]!, pos, shape));
  }

  dispose(): void {
    this.kernels.dispose();
  }

  /** Copies bytes to ptr now, or a copy of them once the work queued before is done. */
  private put(ptr: number, bytes: Uint8Array): void {
    const k = this.kernels;
    if (!this.q.busy) return k.u8(ptr, bytes.byteLength).set(bytes);
    const copy = bytes.slice();
    this.q.later(() => k.u8(ptr, copy.byteLength).set(copy));
  }

  private f32(v: Vec): Float32Array {
    const c = v as CpuVec;
    return this.kernels.f32(c.ptr, c.length);
  }

  private idScratch(n: number): number {
    if (n > this.ids.capacity) {
      const capacity = Math.max(n, 2 * this.ids.capacity, 1024);
      this.ids = {ptr: this.kernels.alloc(capacity * 4), capacity};
    }
    return this.ids.ptr;
  }
}

function denseDtype(m: CpuMat, op: string): DenseDtype {
  if (m.dtype === 'q8' || m.dtype === 'q4' || m.dtype === 'q2' || isBlockFormat(m.dtype)) {
    throw new BackendError(`${op} is not implemented for quantised (${m.dtype}) matrices on the cpu backend`);
  }
  return m.dtype;
}
