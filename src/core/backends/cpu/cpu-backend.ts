/**
 * The `cpu` backend: weights live in one shared WebAssembly memory at their stored width (a bf16
 * checkpoint stays bf16) and every weight matvec runs in the WebAssembly SIMD kernels split over
 * worker threads. A block of rows (a prompt's tokens, from createVectors) is one [n, length]
 * block of that memory, multiplied by a blocked matrix-matrix kernel in place. The KV cache lives
 * in the same memory (f32 or f16) and attention runs there too, split over threads by heads. The
 * norms, RoPE, activations, sums and products run in kernels too, one call per block of rows
 * (exact gelu, with erf, runs in JS on views of the same memory).
 *
 * Kernel calls are synchronous, except that one whose worker threads are more than SYNC_WAIT_MS
 * behind the calling thread is left running, so that a slow or hung worker does not block the
 * event loop.
 * Every operation here first asks `kernels.queue.busy`: while a call is running, the operation is
 * queued behind it (with copies of the caller's arrays) and read() / topK() wait for the queue.
 */
import type {Activation} from '../../model/config.js';
import {applyActivation} from '../../numeric/activations.js';
import {keepTopKHost} from '../host/host-kernels.js';
import {topKIndices} from '../../numeric/select.js';
import type {
  AttentionShape,
  Backend,
  GroupScoreSpec,
  HostMatrix,
  HostQuantMatrix,
  KvCache,
  KvShape,
  Mat,
  MatDtype,
  OpName,
  Owners,
  RopeTable,
  TopK,
  Vec,
} from '../backend.js';
import {dequantizeHost, hostMatrixBytes, quantMatrixBytes} from '../backend.js';
import {BLOCK_BYTES, isBlockFormat} from '../../numeric/ggml-quant.js';
import {BlockKernels, blocksOf, type BlockActivations} from './block-kernels.js';
import {CpuKernels, type DenseDtype} from './kernels.js';
import type {OpQueue} from './op-queue.js';
import {BackendError} from '../../errors.js';
import {attendRows, attendSeqRows, byBlock, byElements, strideOf} from './cpu-rows.js';
import {actCode, actF32, binopF32, groupScoresF32, hasActKernel, hasGroupScoreKernel, lnRows, rmsRows, RopeTables, ropeRows} from './row-kernels.js';
import {cacheBytes, CpuKvCache, readCpuKv} from './kv-cache.js';
import {CpuMat, CpuVec, denseDtype, vecs} from './handles.js';
import {CpuBatchOps} from './batched-ops.js';

export interface CpuBackendOptions {
  threads?: number;
  /**
   * How the ggml block (q8_0, q4_0) dot products take the activations: 'f32' (default: agrees
   * with the reference to f32 rounding), 'int16' (rounded to 16 bits per 32 columns first:
   * about twice the compute rate, up to ~1e-3 relative off on the logits) or 'int8' (q4_0 weights
   * take them rounded to 8 bits, as llama.cpp does; block-kernels.ts).
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
  const kernels = await CpuKernels.create({threads: opts.threads, syncWaitMs: SYNC_WAIT_MS});
  // int8 activations pay only where the 8-bit dot product is one instruction (the relaxed build);
  // the plain build computes the same values about 4x slower, so it takes int16 (describe() says which)
  const acts = opts.blockActivations === 'int8' && kernels.simd !== 'relaxed' ? 'int16' : opts.blockActivations;
  return new CpuBackend(kernels, acts);
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;
  /** Work queued behind a kernel call that is still running (see op-queue.ts). */
  private readonly q: OpQueue;
  /** Kernels on ggml block matrices (q8_0, q4_0). */
  private readonly blocks: BlockKernels;
  /** Hands a dropped KV cache's block back to the arena once the cache is garbage-collected. */
  private readonly reaper: FinalizationRegistry<{ptr: number; bytes: number}>;
  /** f32 cos/sin tables of the RoPE tables in use, per position. */
  private readonly ropeTables: RopeTables;
  /** The batched kernels and the row-id scratch (batched-ops.ts). */
  private readonly batch: CpuBatchOps;

  constructor(
    readonly kernels: CpuKernels,
    blockActivations: BlockActivations = 'f32',
  ) {
    this.q = kernels.queue;
    this.blocks = new BlockKernels(kernels, blockActivations);
    this.ropeTables = new RopeTables(kernels);
    this.batch = new CpuBatchOps(kernels, this.blocks, this.q, this);
    // behind any call still running (a worker may be reading a cache the program no longer holds)
    this.reaper = new FinalizationRegistry(({ptr, bytes}) => this.q.later(() => kernels.releaseLasting(ptr, bytes)));
  }

  describe(): string {
    const t = this.kernels.threads;
    // the activation mode matters (and is named) only once block weights are held
    const acts = this.blocks.activations;
    const ints = this.blocks.holdsWeights && acts !== 'f32' ? `; ${acts} activations on block weights` : '';
    return `cpu (wasm ${this.kernels.simd === 'relaxed' ? 'relaxed simd' : 'simd'}, ${t} thread${t === 1 ? '' : 's'}${ints})`;
  }

  /** int2 matrices are held dequantised (f32): correct, but not a saving. */
  supports(op: OpName, dtype?: MatDtype): boolean {
    // batched kernels exist for dense and ggml block weights and the predictors' q8 / q4; int2 loops over the vectors
    if (op === 'sharedBatch') return dtype !== 'q2';
    if (op === 'kvF16') return true;
    return dtype !== 'q2';
  }

  uploadMatrix(m: HostMatrix): Mat {
    if (isBlockFormat(m.dtype)) blocksOf(m.cols);
    const bytes = hostMatrixBytes(m);
    const ptr = this.kernels.alloc(bytes);
    const data = new Uint8Array(m.data.buffer, m.data.byteOffset, bytes);
    this.put(ptr, data);
    if (isBlockFormat(m.dtype)) this.blocks.noteScales(m.dtype, ptr, data);
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

  /** One [n, length] block: row i at ptr + i * length * 4, so the block kernels run on it in place. */
  createVectors(n: number, length: number): Vec[] {
    const ptr = this.kernels.alloc(Math.max(4, n * length * 4));
    return Array.from({length: n}, (_, i) => new CpuVec(ptr + i * length * 4, length));
  }

  createKvCache(shape: KvShape): KvCache {
    const bytes = cacheBytes(shape);
    const cache = new CpuKvCache(shape, this.kernels.allocLasting(bytes));
    this.reaper.register(cache, {ptr: cache.ptr, bytes}, cache);
    return cache;
  }

  releaseKvCache(cache: KvCache): void {
    const c = cache as CpuKvCache;
    // work queued behind a running call may still use the cache: release it after that work
    this.q.later(() => {
      if (!c.markReleased()) return;
      this.reaper.unregister(c);
      this.kernels.releaseLasting(c.ptr, c.bytes);
    });
  }

  async readKvCache(cache: KvCache, layer: number, n: number): Promise<{keys: Float32Array; values: Float32Array}> {
    await this.q.settle();
    return readCpuKv(this.kernels, cache as CpuKvCache, layer, n);
  }

  write(dst: Vec, src: Float32Array): void {
    if (src.length !== dst.length) throw new BackendError(`write: ${src.length} values into a vector of ${dst.length}`);
    if (this.q.busy) {
      const copy = src.slice();
      return this.q.later(() => this.write(dst, copy));
    }
    this.f32(dst).set(src);
  }

  async read(src: Vec): Promise<Float32Array> {
    if (!this.q.busy) return this.copyOut(src);
    let values: Float32Array | undefined;
    this.q.later(() => (values = this.copyOut(src)));
    await this.q.settle();
    return values!;
  }

  /**
   * A host copy of a vector. set() from the shared memory is one block copy; slice() and
   * Float32Array.from go element by element on a shared buffer (32000 floats: 13 us against 71
   * and 103 us).
   */
  private copyOut(src: Vec): Float32Array {
    const out = new Float32Array(src.length);
    out.set(this.f32(src));
    return out;
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

  matvecRoundedBatch(w: Mat, xs: Vec[], outs: Vec[]): boolean {
    const m = w as CpuMat;
    if ((m.dtype !== 'q8' && m.dtype !== 'q4') || this.blocks.activations === 'f32') return false;
    if (!this.kernels.qiSupported(m.dtype === 'q8' ? 8 : 4, m.quant!.groupSize)) return false;
    this.batch.matvecRoundedBatch(m, xs, outs);
    return true;
  }

  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void {
    if (this.q.busy) {
      const copy = rows.slice();
      return this.q.later(() => this.matvecRows(w, copy, x, out));
    }
    const m = w as CpuMat;
    const ids = this.batch.idsOf(rows);
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
    const ids = rows ? this.batch.idsOf(rows) : 0;
    const [cp, yp] = [(coef as CpuVec).ptr, (out as CpuVec).ptr];
    if (isBlockFormat(m.dtype)) this.blocks.accumulateRows(m.dtype, m.ptr, m.rows, blocksOf(m.cols), ids, n, cp, yp);
    else this.kernels.accumulateRows(denseDtype(m, 'accumulateRows'), m.ptr, m.rows, m.cols, ids, n, cp, yp);
    if (bias) this.add(out, bias, out);
  }

  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void {
    this.batch.matvecBatch(w, xs, outs, bias, owners);
  }

  matvecRowsBatch(w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[], owners?: Owners): void {
    this.batch.matvecRowsBatch(w, rows, xs, outs, owners);
  }

  accumulateRowsBatch(w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void {
    this.batch.accumulateRowsBatch(w, rows, coefs, outs, bias, owners);
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
    this.addRows([a], [b], [out]);
  }

  mul(a: Vec, b: Vec, out: Vec): void {
    this.mulRows([a], [b], [out]);
  }

  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void {
    this.rmsNormRows([x], weight, eps, [out]);
  }

  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void {
    this.layerNormRows([x], weight, bias, eps, [out]);
  }

  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void {
    this.ropeRows([x], nHeads, [pos], table);
  }

  activation(kind: Activation, x: Vec, out: Vec): void {
    this.activationRows(kind, [x], [out]);
  }

  ffnGatedRows(gate: Mat, up: Mat, rows: Int32Array, x: Vec, activation: Activation, out: Vec, upOut: Vec): boolean {
    const [g, u] = [gate as CpuMat, up as CpuMat];
    if (isBlockFormat(g.dtype) || g.dtype !== u.dtype || g.rows !== u.rows || g.cols !== u.cols || !hasActKernel(activation)) return false;
    if (this.q.busy) {
      const copy = rows.slice();
      this.q.later(() => this.ffnGatedRows(gate, up, copy, x, activation, out, upOut));
      return true;
    }
    const ids = this.batch.idsOf(rows);
    const dtype = denseDtype(g, 'ffnGatedRows');
    this.kernels.gatedRows(dtype, g.ptr, u.ptr, g.rows, g.cols, ids, rows.length, (x as CpuVec).ptr, (out as CpuVec).ptr, (upOut as CpuVec).ptr, actCode(activation));
    return true;
  }

  ffnGroupScores(pred: Vec, spec: GroupScoreSpec, out: Vec): boolean {
    const {activation, gated, groupSize, score} = spec;
    const n = gated ? pred.length / 2 : pred.length;
    if (!hasGroupScoreKernel(activation)) return false;
    if (out.length * groupSize !== n) throw new BackendError(`ffnGroupScores: ${out.length} groups of ${groupSize} for ${n} neurons`);
    this.q.later(() => groupScoresF32(this.kernels, (pred as CpuVec).ptr, n, groupSize, activation, gated, score, (out as CpuVec).ptr));
    return true;
  }

  // ---- row blocks: one kernel call for a block's rows (strided), else one per row ------------

  addRows(as: Vec[], bs: Vec[], outs: Vec[]): void {
    const lists = [vecs(as), vecs(bs), vecs(outs)];
    this.q.later(() => byElements(lists, ([a, b, o], n) => binopF32(this.kernels, 'add', a!, b!, o!, n)));
  }

  mulRows(as: Vec[], bs: Vec[], outs: Vec[]): void {
    const lists = [vecs(as), vecs(bs), vecs(outs)];
    this.q.later(() => byElements(lists, ([a, b, o], n) => binopF32(this.kernels, 'mul', a!, b!, o!, n)));
  }

  rmsNormRows(xs: Vec[], weight: Vec, eps: number, outs: Vec[]): void {
    const lists = [vecs(xs), vecs(outs)];
    const w = weight as CpuVec;
    this.q.later(() => byBlock(lists, ([x, o], n) => rmsRows(this.kernels, x!, w.ptr, o!, w.length, eps, n)));
  }

  layerNormRows(xs: Vec[], weight: Vec, bias: Vec, eps: number, outs: Vec[]): void {
    const lists = [vecs(xs), vecs(outs)];
    const [w, b] = [weight as CpuVec, bias as CpuVec];
    this.q.later(() => byBlock(lists, ([x, o], n) => lnRows(this.kernels, x!, w.ptr, b.ptr, o!, w.length, eps, n)));
  }

  /** Exact gelu (erf) runs on the host, row by row; the others in the kernel. */
  activationRows(kind: Activation, xs: Vec[], outs: Vec[]): void {
    const lists = [vecs(xs), vecs(outs)];
    this.q.later(() => {
      if (!hasActKernel(kind)) return lists[0]!.forEach((x, i) => applyActivation(kind, this.f32(x), this.f32(lists[1]![i]!)));
      byElements(lists, ([x, o], n) => actF32(this.kernels, kind, x!, o!, n));
    });
  }

  ropeRows(xs: Vec[], nHeads: number, positions: readonly number[], table: RopeTable): void {
    const list = vecs(xs);
    const pos = [...positions];
    this.q.later(() => {
      const stride = strideOf(list);
      if (stride !== null) return ropeRows(this.kernels, this.ropeTables, {ptr: list[0]!.ptr, stride}, nHeads, table, pos);
      list.forEach((x, i) => ropeRows(this.kernels, this.ropeTables, {ptr: x.ptr, stride: 0}, nHeads, table, [pos[i]!]));
    });
  }

  keepTopK(x: Vec, k: number, byMagnitude: boolean): void {
    if (this.q.busy) return this.q.later(() => this.keepTopK(x, k, byMagnitude));
    keepTopKHost(this.f32(x), k, byMagnitude);
  }

  /** topKIndices on the vector in place, once the queue is idle (no copy of x). */
  async topK(x: Vec, k: number): Promise<TopK> {
    await this.q.settle();
    const values = this.f32(x);
    const ids = topKIndices(values, k);
    const top = new Float32Array(ids.length);
    for (let i = 0; i < ids.length; i++) top[i] = values[ids[i]!]!;
    return {ids, values: top};
  }

  attention(q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void {
    this.attentionRows([q], [k], [v], cache, layer, pos, shape, [out]);
  }

  attentionRows(qs: Vec[], ks: Vec[], vs: Vec[], cache: KvCache, layer: number, pos0: number, shape: AttentionShape, outs: Vec[]): void {
    const rows = {qs: vecs(qs), ks: vecs(ks), vs: vecs(vs), outs: vecs(outs)};
    this.q.later(() => attendRows(this.kernels, cache as CpuKvCache, layer, pos0, shape, rows));
  }

  attentionSeqs(qs: Vec[], ks: Vec[], vs: Vec[], caches: KvCache[], layer: number, positions: readonly number[], shape: AttentionShape, outs: Vec[]): boolean {
    if (qs.length < 2) return false;
    const ptr = (v: Vec) => (v as CpuVec).ptr;
    const rows = qs.map((q, i) => ({q: ptr(q), k: ptr(ks[i]!), v: ptr(vs[i]!), out: ptr(outs[i]!), pos: positions[i]!}));
    const cs = [...caches] as CpuKvCache[];
    this.q.later(() => attendSeqRows(this.kernels, cs, layer, shape, rows));
    return true;
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
}
