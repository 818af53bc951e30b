/**
 * The cpu backend's batched kernels (several sequences' vectors against one matrix, each weight
 * row read once for all of them: docs/ARCHITECTURE.md, Batching) and the scratch they share with
 * the gathered per-vector kernels: row ids and owner masks copied into the shared memory, vectors
 * packed into one block. CpuBackend delegates to it; the single-vector cases go back through the
 * backend (`single`).
 */
import {OWNERS_MAX_BATCH, type Backend, type Mat, type Owners, type Vec} from '../backend.js';
import {isBlockFormat} from '../../numeric/ggml-quant.js';
import {BackendError} from '../../errors.js';
import {blocksOf, type BlockKernels} from './block-kernels.js';
import {blockMatmul, GEMM_MIN_ROWS} from './cpu-rows.js';
import {CpuMat, CpuVec, denseDtype} from './handles.js';
import type {CpuKernels} from './kernels.js';
import type {OpQueue} from './op-queue.js';

/** A block of the shared memory grown on demand (kept for the backend's life). */
interface Scratch {
  ptr: number;
  capacity: number;
}

export class CpuBatchOps {
  private ids: Scratch = {ptr: 0, capacity: 0};
  private owners: Scratch = {ptr: 0, capacity: 0};

  constructor(
    private readonly kernels: CpuKernels,
    private readonly blocks: BlockKernels,
    private readonly q: OpQueue,
    /** The backend, for the one-vector cases and the biases. */
    private readonly single: Pick<Backend, 'matvec' | 'matvecRows' | 'accumulateRows' | 'add'>,
  ) {}

  /** Row ids copied into the ids scratch (grown on demand); its pointer. */
  idsOf(rows: Int32Array): number {
    if (rows.length > this.ids.capacity) {
      const capacity = Math.max(rows.length, 2 * this.ids.capacity, 1024);
      this.ids = {ptr: this.kernels.alloc(capacity * 4), capacity};
    }
    this.kernels.i32(this.ids.ptr, rows.length).set(rows);
    return this.ids.ptr;
  }

  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void {
    if (this.q.busy) {
      const [xc, oc, own] = [[...xs], [...outs], owners?.slice()];
      return this.q.later(() => this.matvecBatch(w, xc, oc, bias, own));
    }
    const m = w as CpuMat;
    if (m.dtype === 'q2' || xs.length === 1) {
      xs.forEach((x, b) => this.single.matvec(w, x, outs[b]!, bias));
      return;
    }
    if (m.dtype === 'q8' || m.dtype === 'q4') {
      const q = m.quant!;
      this.batched(xs, m.cols, outs, m.rows, (xp, yp) => this.kernels.matvecQBatch(m.dtype === 'q8' ? 8 : 4, m.ptr, q.scales, m.rows, m.cols, q.groupSize, xp, yp, xs.length));
      if (bias) for (const o of outs) this.single.add(o, bias, o);
      return;
    }
    const own = this.ownerMasks(owners, m.rows, xs.length);
    // with owners the row kernels compute only the owned entries: cheaper than every entry by the
    // matrix-matrix kernel once a sequence owns few rows (the HiRE FFN's union of every group)
    if (!own && !isBlockFormat(m.dtype) && xs.length >= GEMM_MIN_ROWS && m.cols % 4 === 0) {
      blockMatmul(this.kernels, m.dtype, m, xs as CpuVec[], outs as CpuVec[], bias as CpuVec | undefined);
      return;
    }
    this.batched(xs, m.cols, outs, m.rows, (xp, yp) =>
      isBlockFormat(m.dtype)
        ? this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, xp, yp, xs.length, null, own)
        : this.kernels.matvecBatch(denseDtype(m, 'matvecBatch'), m.ptr, m.rows, m.cols, xp, yp, xs.length, own),
    );
    if (bias) for (const o of outs) this.single.add(o, bias, o);
  }

  /** Backend.matvecRoundedBatch on an int8 / int4 matrix the kernels take (CpuBackend checks). */
  matvecRoundedBatch(m: CpuMat, xs: Vec[], outs: Vec[]): void {
    if (this.q.busy) {
      const [xc, oc] = [[...xs], [...outs]];
      return this.q.later(() => this.matvecRoundedBatch(m, xc, oc));
    }
    const bits = m.dtype === 'q8' ? 8 : 4;
    const q = m.quant!;
    if (xs.length === 1) return this.kernels.matvecQI(bits, m.ptr, q.scales, m.rows, m.cols, q.groupSize, (xs[0] as CpuVec).ptr, (outs[0] as CpuVec).ptr);
    this.batched(xs, m.cols, outs, m.rows, (xp, yp) => this.kernels.matvecQIBatch(bits, m.ptr, q.scales, m.rows, m.cols, q.groupSize, xp, yp, xs.length));
  }

  matvecRowsBatch(w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[], owners?: Owners): void {
    if (this.q.busy) {
      const [rc, xc, oc, own] = [rows.slice(), [...xs], [...outs], owners?.slice()];
      return this.q.later(() => this.matvecRowsBatch(w, rc, xc, oc, own));
    }
    const m = w as CpuMat;
    if (xs.length === 1 || rows.length === 0) {
      xs.forEach((x, b) => this.single.matvecRows(w, rows, x, outs[b]!));
      return;
    }
    const ids = this.idsOf(rows);
    const own = this.ownerMasks(owners, rows.length, xs.length);
    this.batched(xs, m.cols, outs, rows.length, (xp, yp) =>
      isBlockFormat(m.dtype)
        ? this.blocks.dot(m.dtype, m.ptr, m.rows, m.cols, xp, yp, xs.length, {ptr: ids, n: rows.length}, own)
        : this.kernels.matvecRowsBatch(denseDtype(m, 'matvecRowsBatch'), m.ptr, m.rows, m.cols, ids, rows.length, xp, yp, xs.length, own),
    );
  }

  accumulateRowsBatch(w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void {
    if (this.q.busy) {
      const [rc, cc, oc, own] = [rows && rows.slice(), [...coefs], [...outs], owners?.slice()];
      return this.q.later(() => this.accumulateRowsBatch(w, rc, cc, oc, bias, own));
    }
    const m = w as CpuMat;
    const n = rows ? rows.length : m.rows;
    if (coefs.length === 1) {
      this.single.accumulateRows(w, rows, coefs[0]!, outs[0]!, bias);
      return;
    }
    const ids = rows ? this.idsOf(rows) : 0;
    const own = this.ownerMasks(owners, n, coefs.length);
    // the kernels take the coefficients row by row ([n, nb]): packed that way, not transposed after
    this.batched(
      coefs,
      n,
      outs,
      m.cols,
      (cp, yp) =>
        isBlockFormat(m.dtype)
          ? this.blocks.accumulateRowsBatch(m.dtype, m.ptr, m.rows, blocksOf(m.cols), ids, n, cp, yp, coefs.length, own)
          : this.kernels.accumulateRowsBatch(denseDtype(m, 'accumulateRowsBatch'), m.ptr, m.rows, m.cols, ids, n, cp, yp, coefs.length, own),
      true,
    );
    if (bias) for (const o of outs) this.single.add(o, bias, o);
  }

  /**
   * Packs ins ([nb] vectors of inLen) into one block, [nb, inLen], or interleaved, [inLen, nb]
   * (element i of every vector side by side), runs fn(inBlock, outBlock), unpacks outs ([nb, outLen]).
   */
  private batched(ins: Vec[], inLen: number, outs: Vec[], outLen: number, fn: (inPtr: number, outPtr: number) => void, interleave = false): void {
    const k = this.kernels;
    const view = (v: Vec) => k.f32((v as CpuVec).ptr, (v as CpuVec).length);
    const mark = k.mark();
    try {
      const nb = ins.length;
      const inPtr = k.alloc(nb * inLen * 4);
      const outPtr = k.alloc(nb * outLen * 4);
      const block = k.f32(inPtr, nb * inLen);
      if (!interleave) ins.forEach((v, b) => block.set(view(v), b * inLen));
      else {
        ins.forEach((v, b) => {
          const src = view(v);
          for (let i = 0; i < inLen; i++) block[i * nb + b] = src[i]!;
        });
      }
      fn(inPtr, outPtr);
      // the out block is read when the call is over (reset below only moves the arena's top)
      this.q.later(() => {
        const res = k.f32(outPtr, nb * outLen);
        outs.forEach((v, b) => view(v).set(res.subarray(b * outLen, (b + 1) * outLen)));
      });
    } finally {
      k.reset(mark);
    }
  }

  /**
   * The owners masks copied into the owners scratch (its pointer), or 0 where there are none; a
   * BackendError unless there is one per row and at most OWNERS_MAX_BATCH sequences.
   */
  private ownerMasks(owners: Owners | undefined, n: number, nb: number): number {
    if (!owners) return 0;
    if (owners.length !== n) throw new BackendError(`owners: ${owners.length} masks for ${n} rows`);
    if (nb > OWNERS_MAX_BATCH) throw new BackendError(`owners: at most ${OWNERS_MAX_BATCH} sequences, got ${nb}`);
    if (n > this.owners.capacity) {
      const capacity = Math.max(n, 2 * this.owners.capacity, 1024);
      this.owners = {ptr: this.kernels.alloc(capacity * 4), capacity};
    }
    this.kernels.i32(this.owners.ptr, n).set(new Int32Array(owners.buffer, owners.byteOffset, n));
    return this.owners.ptr;
  }
}
