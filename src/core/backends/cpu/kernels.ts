import os from 'node:os';
import {BackendError} from '../../errors.js';
import {OWNERS_MAX_BATCH} from '../backend.js';
import {SharedArena} from './arena.js';
import {HEAP_BASE, partLength, SINK_OFFSET, type KernelName} from './control.js';
import {OpQueue} from './op-queue.js';
import {kernelsModule, requestedSimd, type SimdBuild} from './simd-build.js';
import {prepareQuantX, roundedXBytes, roundQuantX} from './quant-x.js';
import {WorkerPool, type WorkerFailure} from './pool.js';
import {wasm, type WasmMemory} from './wasm-api.js';

/** Dense weight element types. */
export type DenseDtype = 'f32' | 'bf16' | 'f16';

export interface CpuKernelsOptions {
  /** Threads including the calling one (default os.availableParallelism()). */
  threads?: number;
  /** Heap bytes to map up front (default 16 MiB); the memory grows on demand. */
  initialBytes?: number;
  /** Upper limit of the shared memory (default and maximum 4 GiB - 64 KiB). */
  maxBytes?: number;
  /** Kernels reading fewer weight bytes than this run on the calling thread only (default 64 KiB). */
  minParallelBytes?: number;
  /** Polls of the control block before a thread sleeps in Atomics.wait (default 20000, ~tens of µs). */
  spin?: number;
  /** Longest a call waits for its workers before it gives up with a BackendError (default 60 s). */
  timeoutMs?: number;
  /**
   * Longest a call blocks the calling thread waiting for its workers once its own part is done
   * (default: timeoutMs, i.e. calls always complete before they return). Past it the call is
   * left running: `queue.busy` is true, further work must go through queue.later(), and
   * queue.settle() waits without blocking.
   */
  syncWaitMs?: number;
  /**
   * Parts per thread that a matvec call is split in (default DEFAULT_PARTS_PER_THREAD): threads
   * claim parts one at a time, so more parts balance the load when one thread is slowed down (a
   * busy machine). Results never depend on it.
   */
  partsPerThread?: number;
  /**
   * Which build of the kernels: 'simd' (WebAssembly SIMD), or 'relaxed' (the prompt-block tile's
   * multiply-adds fused with relaxed SIMD, where the runtime has it: Node 20 behind V8's
   * --experimental-wasm-relaxed-simd, which is switched on before compiling; else 'simd').
   * Default: HIRE_CPU_SIMD when set, else DEFAULT_SIMD (simd-build.ts).
   */
  simd?: SimdBuild;
}


const PAGE = 65536;
/** 4 GiB - 64 KiB: the largest memory whose byte length still fits an i32 address space. */
export const MAX_MEMORY_BYTES = 65535 * PAGE;
const ELEM_BYTES: Record<DenseDtype, number> = {f32: 4, bf16: 2, f16: 2};
/** Rows per thread chunk: a multiple of 16 keeps every 64-byte line of y on one thread. */
export const ROW_ALIGN = 16;
/**
 * See CpuKernelsOptions.partsPerThread. scripts/decode-sweep.mjs --parts 1,4 measured no
 * difference beyond the noise of the loaded 2-core machine (llama-110m f32 median 31.8 / 25.5 ms
 * per step with 1 part per thread, 29.4 / 27.2 with 4); 4 is kept because a thread stopped
 * mid-part then holds up an eighth of a 2-thread call, not half.
 */
export const DEFAULT_PARTS_PER_THREAD = 4;


/**
 * WebAssembly SIMD kernels on a shared memory, run by the calling thread plus a pool of
 * worker threads. All pointers are byte offsets returned by alloc(). Calls are synchronous
 * unless `syncWaitMs` is set: then a call whose workers are slow may return while they still
 * run, and the caller orders its work with queue.later() / queue.settle() (see op-queue.ts).
 * Layouts of every kernel's operands are described at the top of kernels.wat.
 */
export class CpuKernels {
  /** Orders work behind a call left running (only with syncWaitMs): busy, later(), settle(). */
  readonly queue: OpQueue;

  private constructor(
    /** The shared memory every thread's instance uses. */
    private readonly memory: WasmMemory,
    private readonly arena: SharedArena,
    private readonly pool: WorkerPool,
    private readonly minParallelBytes: number,
    private readonly syncWaitMs: number,
    /** The build of the kernels in use ('relaxed' only where the runtime validated it). */
    readonly simd: SimdBuild,
    private readonly partsPerThread: number,
  ) {
    this.queue = new OpQueue(pool);
  }

  static async create(opts: CpuKernelsOptions = {}): Promise<CpuKernels> {
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new BackendError(`threads must be an integer in 1..256, got ${threads}`);
    }
    const maxBytes = opts.maxBytes ?? MAX_MEMORY_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 2 * PAGE || maxBytes > MAX_MEMORY_BYTES) {
      throw new BackendError(`maxBytes must be between 128 KiB and 4 GiB - 64 KiB (${MAX_MEMORY_BYTES}), got ${maxBytes}`);
    }
    const maxPages = Math.floor(maxBytes / PAGE);
    const initialBytes = opts.initialBytes ?? 16 * 1024 * 1024;
    if (!Number.isSafeInteger(initialBytes) || initialBytes < 0) {
      throw new BackendError(`initialBytes must be a non-negative integer, got ${initialBytes}`);
    }
    const initialPages = Math.min(maxPages, Math.ceil((HEAP_BASE + initialBytes) / PAGE));
    let memory: WasmMemory;
    try {
      memory = new wasm.Memory({initial: initialPages, maximum: maxPages, shared: true});
    } catch (cause) {
      throw new BackendError(
        `cpu backend could not reserve a shared memory of up to ${maxPages * PAGE} bytes: ${String(cause)}; lower maxBytes`,
        {cause},
      );
    }
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const syncWaitMs = opts.syncWaitMs ?? timeoutMs;
    if (!(timeoutMs > 0) || !(syncWaitMs >= 0)) {
      throw new BackendError(`timeoutMs must be > 0 and syncWaitMs >= 0, got ${timeoutMs} and ${syncWaitMs}`);
    }
    const partsPerThread = opts.partsPerThread ?? DEFAULT_PARTS_PER_THREAD;
    if (!Number.isInteger(partsPerThread) || partsPerThread < 1 || partsPerThread > 8) {
      throw new BackendError(`partsPerThread must be an integer in 1..8, got ${partsPerThread}`);
    }
    const {build, module} = kernelsModule(requestedSimd(opts.simd));
    const pool = await WorkerPool.start(module, memory, {threads, spin: opts.spin ?? 20000, timeoutMs});
    return new CpuKernels(memory, new SharedArena(memory, maxPages * PAGE), pool, opts.minParallelBytes ?? 64 * 1024, syncWaitMs, build, partsPerThread);
  }

  /** Threads that run kernels, the calling one included. */
  get threads(): number {
    return this.pool.threads;
  }

  // ---- memory --------------------------------------------------------------------------

  /** Bytes allocated and not reset. */
  get bytes(): number {
    return this.arena.bytes;
  }

  /** Current size of the shared memory. */
  get capacity(): number {
    return this.arena.capacity;
  }

  /** A fresh block of `bytes` bytes aligned to `align`; contents are whatever was there. */
  alloc(bytes: number, align = 64): number {
    return this.arena.alloc(bytes, align);
  }

  mark(): number {
    return this.arena.mark();
  }

  reset(mark: number): void {
    this.arena.reset(mark);
  }

  /** Views over the shared memory, created on every call (so they survive memory growth). */
  f32(ptr: number, n: number): Float32Array {
    this.view(ptr, n * 4, 4, 'f32');
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  u16(ptr: number, n: number): Uint16Array {
    this.view(ptr, n * 2, 2, 'u16');
    return new Uint16Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    this.view(ptr, n * 4, 4, 'i32');
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  u8(ptr: number, n: number): Uint8Array {
    this.view(ptr, n, 1, 'u8');
    return new Uint8Array(this.memory.buffer, ptr, n);
  }

  i8(ptr: number, n: number): Int8Array {
    this.view(ptr, n, 1, 'i8');
    return new Int8Array(this.memory.buffer, ptr, n);
  }

  // ---- kernels -------------------------------------------------------------------------

  /** y[rows] = W[rows, cols] . x[cols]. */
  matvec(dtype: DenseDtype, w: number, rows: number, cols: number, x: number, y: number): void {
    const esize = elemBytes(dtype);
    dims('matvec', rows, cols);
    this.arena.check(w, rows * cols * esize, 'matvec w');
    this.arena.check(x, cols * 4, 'matvec x');
    this.arena.check(y, rows * 4, 'matvec y');
    this.run(`matvec_${dtype}`, [w, x, y, cols], rows, ROW_ALIGN, rows * cols * esize, true);
  }

  /**
   * y[i] = W[ids[i]] . x for i < n (ids: n i32 row numbers, any order, repeats allowed). With
   * `rows` every id is checked against it; without, only that the rows lie in memory.
   */
  matvecRows(dtype: DenseDtype, w: number, cols: number, ids: number, n: number, x: number, y: number, rows?: number): void {
    const esize = elemBytes(dtype);
    dims('matvecRows', n, cols);
    this.arena.check(ids, n * 4, 'matvecRows ids');
    this.arena.check(x, cols * 4, 'matvecRows x');
    this.arena.check(y, n * 4, 'matvecRows y');
    if (n === 0) return;
    const idv = this.i32(ids, n);
    let lo = idv[0]!;
    let hi = lo;
    for (let i = 1; i < n; i++) {
      const id = idv[i]!;
      if (id < lo) lo = id;
      else if (id > hi) hi = id;
    }
    if (lo < 0 || (rows !== undefined && hi >= rows)) {
      throw new BackendError(`matvecRows: row ids must lie in [0, ${rows ?? 'rows'}), got ${lo < 0 ? lo : hi}`);
    }
    this.arena.check(w, (hi + 1) * cols * esize, 'matvecRows w (largest id)');
    this.run(`matvec_rows_${dtype}`, [w, x, y, cols, ids], n, ROW_ALIGN, n * cols * esize, true);
  }

  /**
   * A gated FFN's listed neurons: yu[i] = W_up[ids[i]] . x and yg[i] = act(W_gate[ids[i]] . x) *
   * yu[i] for i < n, in one call (act: act_f32's code, 0 silu, 1 relu, 2 gelu_tanh). Both
   * matrices [rows, cols] of one dtype; every value is what matvecRows, the activation and the
   * product give separately, bit for bit.
   */
  gatedRows(dtype: DenseDtype, wg: number, wu: number, rows: number, cols: number, ids: number, n: number, x: number, yg: number, yu: number, act: number): void {
    const esize = elemBytes(dtype);
    dims('gatedRows', n, cols);
    this.checkIds('gatedRows', ids, n, rows);
    this.arena.check(wg, rows * cols * esize, 'gatedRows w_gate');
    this.arena.check(wu, rows * cols * esize, 'gatedRows w_up');
    this.arena.check(x, cols * 4, 'gatedRows x');
    this.arena.check(yg, n * 4, 'gatedRows out');
    this.arena.check(yu, n * 4, 'gatedRows up');
    if (n === 0) return;
    const kind = dtype === 'f32' ? 0 : dtype === 'bf16' ? 1 : 2;
    this.run('gated_rows', [kind, esize, wg, wu, x, yg, yu, cols, ids, act], n, 2, 2 * n * cols * esize, true);
  }

  /**
   * ys[b] = W . xs[b] for b < nb, reading W once (xs: [nb, cols] f32, ys: [nb, rows] f32).
   * Any nb works; weight rows are reused from cache for groups of 4 vectors, best up to 8.
   * `owners` (0: none): rows u32 masks, bit b = vector b needs the row (nb <= 32): only those
   * entries are computed (bit for bit as without owners), the others are 0.
   */
  matvecBatch(dtype: DenseDtype, w: number, rows: number, cols: number, xs: number, ys: number, nb: number, owners = 0): void {
    const esize = elemBytes(dtype);
    dims('matvecBatch', rows, cols);
    if (!Number.isInteger(nb) || nb < 1) throw new BackendError(`matvecBatch: nb must be a positive integer, got ${nb}`);
    this.arena.check(w, rows * cols * esize, 'matvecBatch w');
    this.arena.check(xs, nb * cols * 4, 'matvecBatch xs');
    this.arena.check(ys, nb * rows * 4, 'matvecBatch ys');
    this.checkOwners('matvecBatch', owners, rows, nb);
    if (nb === 1 && owners === 0) {
      this.run(`matvec_${dtype}`, [w, xs, ys, cols], rows, ROW_ALIGN, rows * cols * esize, true);
      return;
    }
    this.run(`matvec_batch_${dtype}`, [w, xs, ys, cols, rows, nb, owners], rows, ROW_ALIGN, rows * cols * esize, true);
  }

  /**
   * y[cols] = sum_i coef[i] * W[ids[i]] for i < n (ids: n i32 row numbers; ids = 0 means rows
   * 0..n-1 in order). W: [rows, cols]; coef: [n] f32. Threads split the columns.
   */
  accumulateRows(dtype: DenseDtype, w: number, rows: number, cols: number, ids: number, n: number, coef: number, y: number): void {
    const esize = elemBytes(dtype);
    dims('accumulateRows', n, cols);
    this.arena.check(coef, n * 4, 'accumulateRows coef');
    this.arena.check(y, cols * 4, 'accumulateRows y');
    if (ids !== 0) {
      this.arena.check(ids, n * 4, 'accumulateRows ids');
      const idv = this.i32(ids, n);
      for (let i = 0; i < n; i++) {
        const id = idv[i]!;
        if (!(id >= 0 && id < rows)) throw new BackendError(`accumulateRows: row ids must lie in [0, ${rows}), got ${id}`);
      }
    } else if (n > rows) {
      throw new BackendError(`accumulateRows: ${n} rows requested from a matrix of ${rows}`);
    }
    this.arena.check(w, rows * cols * esize, 'accumulateRows w');
    const work = n * cols * esize;
    const threads = this.pool.threads;
    if (threads > 1 && work >= this.minParallelBytes && n >= 8 * threads) {
      // Split the rows: each thread reads whole rows into its own partial sum (much faster than
      // splitting the columns, which has every thread read part of every row); then add them.
      const align = 4;
      const chunk = partLength(n, threads, align);
      const parts = Math.ceil(n / chunk);
      const mark = this.arena.mark();
      try {
        const pp = this.arena.alloc(parts * cols * 4);
        this.run(`accum_rows_part_${dtype}`, [w, coef, pp, cols, ids, chunk], n, align, work);
        // The partial sums stay unwritten until the call is over; the arena may be reset before
        // that because whatever is allocated there next is only written by later work.
        this.addParts(pp, parts, cols, y);
      } finally {
        this.arena.reset(mark);
      }
      return;
    }
    this.run(`accum_rows_${dtype}`, [w, coef, y, cols, ids, n], cols, ROW_ALIGN, work);
  }

  /**
   * y[cols] = ((p0 + p1) + p2) + ... of `parts` partial sums [parts, cols] at pp, once the call
   * that writes them is over (queued behind it), by the add kernel on the calling thread: the
   * host loop it replaces took 10-25 us for 1024 floats in decoding, the kernel about 1.
   */
  addParts(pp: number, parts: number, cols: number, y: number): void {
    // pp was allocated by the caller, whose arena mark may be reset by the time this runs (see
    // accumulateRows): it is not checked against the arena again
    this.queue.later(() => {
      if (parts === 1) this.f32(y, cols).set(this.f32(pp, cols));
      for (let p = 1; p < parts; p++) this.run('binop_f32', [0, p === 1 ? pp : y, pp + p * cols * 4, y], cols, 16, 0);
    });
  }

  /**
   * ys[b*n + i] = W[ids[i]] . xs[b] for i < n, b < nb: gathered rows, each read once for every
   * vector (xs: [nb, cols] f32, ys: [nb, n] f32). `owners`: n masks, as for matvecBatch.
   */
  matvecRowsBatch(dtype: DenseDtype, w: number, rows: number, cols: number, ids: number, n: number, xs: number, ys: number, nb: number, owners = 0): void {
    const esize = elemBytes(dtype);
    dims('matvecRowsBatch', n, cols);
    if (!Number.isInteger(nb) || nb < 1) throw new BackendError(`matvecRowsBatch: nb must be a positive integer, got ${nb}`);
    this.checkIds('matvecRowsBatch', ids, n, rows);
    this.arena.check(w, rows * cols * esize, 'matvecRowsBatch w');
    this.arena.check(xs, nb * cols * 4, 'matvecRowsBatch xs');
    this.arena.check(ys, nb * n * 4, 'matvecRowsBatch ys');
    this.checkOwners('matvecRowsBatch', owners, n, nb);
    this.run(`matvec_rows_batch_${dtype}`, [w, xs, ys, cols, n, nb, ids, owners], n, ROW_ALIGN, n * cols * esize, true);
  }

  /**
   * ys[b*cols + c] = sum_i coefs[i*nb + b] * W[ids[i], c] (ids = 0: rows 0..n-1), each listed row
   * read once for every b (coefs: [n, nb] f32, row i's nb coefficients side by side, which keeps
   * them in one cache line: see kernels.wat; ys: [nb, cols] f32). Threads split the columns.
   * `owners` (0: none): n u32 masks (nb <= 32); row i is added only into the sums whose bit is
   * set (the same bits as a coefficient of 0 elsewhere), and a row without owners is not read.
   */
  accumulateRowsBatch(dtype: DenseDtype, w: number, rows: number, cols: number, ids: number, n: number, coefs: number, ys: number, nb: number, owners = 0): void {
    const esize = elemBytes(dtype);
    dims('accumulateRowsBatch', n, cols);
    if (!Number.isInteger(nb) || nb < 1) throw new BackendError(`accumulateRowsBatch: nb must be a positive integer, got ${nb}`);
    if (ids !== 0) this.checkIds('accumulateRowsBatch', ids, n, rows);
    else if (n > rows) throw new BackendError(`accumulateRowsBatch: ${n} rows requested from a matrix of ${rows}`);
    this.arena.check(w, rows * cols * esize, 'accumulateRowsBatch w');
    this.arena.check(coefs, nb * n * 4, 'accumulateRowsBatch coefs');
    this.arena.check(ys, nb * cols * 4, 'accumulateRowsBatch ys');
    this.checkOwners('accumulateRowsBatch', owners, n, nb);
    // without owners the kernel copies blocks of 64 rows of each thread's columns into this
    // scratch first (kernels.wat, $accum_batch_tiled, with its measurements)
    const chunk = partLength(cols, this.pool.threads, ROW_ALIGN); // cols >= 1: at least ROW_ALIGN
    const mark = this.arena.mark();
    try {
      // per part 64 rows of chunk * 4 + 64 bytes; a call run whole on one thread uses 64 rows of
      // about cols * 4 + 64, which that also holds
      const scratch = owners === 0 ? this.arena.alloc(Math.ceil(cols / chunk) * 64 * (chunk * 4 + 64)) : 0;
      // the scratch may be reset while a call runs on: later work is queued behind it (see gemm)
      this.run(`accum_rows_batch_${dtype}`, [w, coefs, ys, cols, ids, n, nb, owners, scratch, chunk], cols, ROW_ALIGN, n * cols * esize);
    } finally {
      this.arena.reset(mark);
    }
  }

  /** y = dequant(W) . x for int8 W [rows, cols] with one f32 scale per groupSize columns (see numeric/quant.ts). */
  matvecQ8(w: number, scales: number, rows: number, cols: number, groupSize: number, x: number, y: number): void {
    this.checkQuant('matvecQ8', rows, cols, groupSize, false);
    this.arena.check(w, rows * cols, 'matvecQ8 w');
    this.arena.check(scales, (rows * cols * 4) / groupSize, 'matvecQ8 scales');
    this.arena.check(x, cols * 4, 'matvecQ8 x');
    this.arena.check(y, rows * 4, 'matvecQ8 y');
    if (rows === 0) return;
    const mark = this.arena.mark();
    try {
      const xq = this.arena.alloc(cols * 4);
      prepareQuantX(this.memory, 8, x, xq, cols, groupSize);
      this.run('matvec_q8', [w, scales, xq, y, cols, groupSize], rows, ROW_ALIGN, rows * cols);
    } finally {
      this.arena.reset(mark);
    }
  }

  /** y = dequant(W) . x for packed int4 W [rows, ceil(cols/2) bytes] (see numeric/quant.ts). */
  matvecQ4(w: number, scales: number, rows: number, cols: number, groupSize: number, x: number, y: number): void {
    this.checkQuant('matvecQ4', rows, cols, groupSize, true);
    const rowBytes = Math.ceil(cols / 2);
    this.arena.check(w, rows * rowBytes, 'matvecQ4 w');
    this.arena.check(scales, (rows * cols * 4) / groupSize, 'matvecQ4 scales');
    this.arena.check(x, cols * 4, 'matvecQ4 x');
    this.arena.check(y, rows * 4, 'matvecQ4 y');
    if (rows === 0) return;
    const mark = this.arena.mark();
    try {
      const xq = this.arena.alloc(cols * 4);
      prepareQuantX(this.memory, 4, x, xq, cols, groupSize);
      this.run('matvec_q4', [w, scales, xq, y, cols, groupSize], rows, ROW_ALIGN, rows * rowBytes);
    } finally {
      this.arena.reset(mark);
    }
  }

  /**
   * ys[v*rows + r] = dequant(W)[r] . xs[v] for nv vectors (xs [nv, cols], ys [nv, rows]) on an int8
   * (bits 8) or packed int4 (bits 4) matrix: each row is read from memory once for every vector,
   * and every result is bit for bit matvecQ8 / matvecQ4's.
   */
  matvecQBatch(bits: 8 | 4, w: number, scales: number, rows: number, cols: number, groupSize: number, xs: number, ys: number, nv: number): void {
    const what = bits === 8 ? 'matvecQ8Batch' : 'matvecQ4Batch';
    const rowBytes = this.checkQuantBatch(what, bits, w, scales, rows, cols, groupSize, xs, ys, nv);
    if (rows === 0) return;
    const mark = this.arena.mark();
    try {
      const xq = this.arena.alloc(nv * cols * 4);
      for (let v = 0; v < nv; v++) prepareQuantX(this.memory, bits, xs + v * cols * 4, xq + v * cols * 4, cols, groupSize);
      // rowwise: each row's results come from that row alone, whatever the split
      this.run('matvec_q_batch', [bits === 4 ? 1 : 0, w, scales, xq, ys, cols, groupSize, rows, nv], rows, ROW_ALIGN, rows * rowBytes, true);
    } finally {
      this.arena.reset(mark);
    }
  }

  /**
   * y = dequant(W) . round(x) for an int8 (bits 8) or packed int4 (bits 4) matrix, x rounded to 8
   * bits per group of groupSize columns (quant-x.ts roundQuantX) and every product an integer: the
   * FFN predictors' fast form. groupSize must be a multiple of 32; int4 needs the relaxed build
   * (qiSupported says which matrices can take it).
   */
  matvecQI(bits: 8 | 4, w: number, scales: number, rows: number, cols: number, groupSize: number, x: number, y: number): void {
    this.matvecQIBatch(bits, w, scales, rows, cols, groupSize, x, y, 1);
  }

  /** matvecQI for nv vectors (xs [nv, cols], ys [nv, rows]): each row read once for all of them, every result bit for bit matvecQI's. */
  matvecQIBatch(bits: 8 | 4, w: number, scales: number, rows: number, cols: number, groupSize: number, xs: number, ys: number, nv: number): void {
    const what = nv === 1 ? 'matvecQI' : 'matvecQIBatch';
    if (!this.qiSupported(bits, groupSize)) throw new BackendError(`${what}: no integer kernel for ${bits}-bit weights in groups of ${groupSize} on this build (${this.simd})`);
    const rowBytes = this.checkQuantBatch(what, bits, w, scales, rows, cols, groupSize, xs, ys, nv);
    if (rows === 0) return;
    const mark = this.arena.mark();
    try {
      const xb = roundedXBytes(cols, groupSize);
      const xq = this.arena.alloc(nv * xb);
      for (let v = 0; v < nv; v++) roundQuantX(this.memory, bits, xs + v * cols * 4, xq + v * xb, cols, groupSize);
      this.run('matvec_qi_batch', [bits === 4 ? 1 : 0, w, scales, xq, ys, cols, groupSize, rows, nv, xb], rows, ROW_ALIGN, rows * rowBytes, true);
    } finally {
      this.arena.reset(mark);
    }
  }

  /** Checks a batched int8 / int4 matvec's shape and operands (xs [nv, cols], ys [nv, rows] f32); returns the bytes of a row of W. */
  private checkQuantBatch(what: string, bits: 8 | 4, w: number, scales: number, rows: number, cols: number, groupSize: number, xs: number, ys: number, nv: number): number {
    this.checkQuant(what, rows, cols, groupSize, bits === 4);
    if (!Number.isInteger(nv) || nv < 1) throw new BackendError(`${what}: nv must be a positive integer, got ${nv}`);
    const rowBytes = bits === 8 ? cols : Math.ceil(cols / 2);
    this.arena.check(w, rows * rowBytes, `${what} w`);
    this.arena.check(scales, (rows * cols * 4) / groupSize, `${what} scales`);
    this.arena.check(xs, nv * cols * 4, `${what} xs`);
    this.arena.check(ys, nv * rows * 4, `${what} ys`);
    return rowBytes;
  }

  /** Whether matvecQI takes bits-bit weights in groups of groupSize here (int4: the relaxed build's 8-bit dot product). */
  qiSupported(bits: 8 | 4, groupSize: number): boolean {
    return groupSize % 32 === 0 && (bits === 8 || this.simd === 'relaxed');
  }

  /** dst[n] f32 = src[n] bf16/f16, converted exactly (inf, NaN payloads and subnormals kept). */
  widen(dtype: 'bf16' | 'f16', src: number, dst: number, n: number): void {
    if (dtype !== 'bf16' && dtype !== 'f16') throw new BackendError(`widen: dtype must be bf16 or f16, got ${String(dtype)}`);
    dims('widen', n, 1);
    this.arena.check(src, n * 2, 'widen src');
    this.arena.check(dst, n * 4, 'widen dst');
    this.run(`widen_${dtype}`, [src, dst], n, 64, n * 6);
  }

  /** Streams [ptr, ptr + bytes) on every thread (bytes rounded down to 256); for the bandwidth probe. */
  readSum(ptr: number, bytes: number): void {
    this.arena.check(ptr, bytes, 'readSum');
    this.run('read_sum', [ptr, SINK_OFFSET], Math.floor(bytes / 256), 16, bytes);
  }

  /**
   * For the kernel wrappers of this folder (prompt-kernels.ts): runs kernel `name` with `args`
   * over [0, count), split over every thread in chunks that are multiples of `align` once the
   * call reads at least minParallelBytes (`workBytes`), else on the calling thread.
   */
  runKernel(name: KernelName, args: number[], count: number, align: number, workBytes: number): void {
    this.run(name, args, count, align, workBytes);
  }

  /** Throws a BackendError unless [ptr, ptr + bytes) lies in allocated memory. */
  check(ptr: number, bytes: number, what: string): void {
    this.arena.check(ptr, bytes, what);
  }

  /** A block for a long-lived buffer (a KV cache), reusing a released one that fits; see SharedArena. */
  allocLasting(bytes: number): number {
    return this.arena.allocLasting(bytes);
  }

  /** Gives a block from allocLasting() back for reuse. */
  releaseLasting(ptr: number, bytes: number): void {
    this.arena.releaseLasting(ptr, bytes);
  }

  /**
   * Test hook: worker 1 fails during the next kernel call, which then throws a BackendError
   * ('throw': the worker throws and dies, 'exit': it calls process.exit, 'hang': it stops
   * answering for 30 s, so the call times out after `timeoutMs`; the pool is unusable after),
   * or is late ('slow': it sleeps 300 ms, then does its part; 'late': it sleeps 2 s before it
   * claims a part, so the calling thread may run every part).
   */
  debugFailNextCall(mode: WorkerFailure): void {
    this.pool.failNextCall(mode);
  }

  /** Stops the workers; the memory is released once nothing references it. */
  dispose(): void {
    this.pool.dispose();
  }

  /** `rowwise`: each output comes from its own rows alone, so the range may be split finer. */
  private run(name: KernelName, args: number[], count: number, align: number, workBytes: number, rowwise = false): void {
    const parts = rowwise ? this.pool.threads * this.partsPerThread : this.pool.threads;
    this.pool.run(name, args, 0, count, align, workBytes >= this.minParallelBytes, this.syncWaitMs, parts);
  }

  /**
   * For the kernel families kept in their own files (block-kernels.ts): run `name` over [0, count)
   * split in multiples of `align` (in parallel when workBytes reaches minParallelBytes), after
   * checking that every [ptr, ptr + bytes) operand lies in allocated memory. `rowwise` as for run().
   */
  runChecked(name: KernelName, args: number[], count: number, align: number, workBytes: number, operands: Array<[number, number, string]>, rowwise = false): void {
    for (const [ptr, bytes, what] of operands) this.arena.check(ptr, bytes, what);
    this.run(name, args, count, align, workBytes, rowwise);
  }

  /** Threads that may take part in a call of this many weight bytes (1 below minParallelBytes). */
  threadsFor(workBytes: number): number {
    return workBytes >= this.minParallelBytes ? this.pool.threads : 1;
  }

  private view(ptr: number, bytes: number, align: number, what: string): void {
    if (!Number.isSafeInteger(ptr) || ptr % align !== 0 || ptr < 0 || !(bytes >= 0) || ptr + bytes > this.capacity) {
      throw new BackendError(`${what} view: [${ptr}, ${ptr + bytes}) is not an aligned range of the memory (${this.capacity} bytes)`);
    }
  }

  /**
   * Throws a BackendError unless `owners` is 0 or n masks in allocated memory for at most 32
   * vectors (block-kernels.ts checks its own the same way).
   */
  checkOwners(what: string, owners: number, n: number, nb: number): void {
    if (owners === 0) return;
    if (nb > OWNERS_MAX_BATCH) throw new BackendError(`${what}: owners name at most ${OWNERS_MAX_BATCH} vectors, got ${nb}`);
    this.arena.check(owners, n * 4, `${what} owners`);
  }

  /**
   * Row and vector pairs that the owner-aware kernels computed on the calling thread so far (a
   * test hook: with threads 1 every part runs there). Work an owners mask leaves out is not counted.
   */
  get ownedWork(): number {
    return this.pool.ownedWork;
  }

  private checkIds(what: string, ids: number, n: number, rows: number): void {
    this.arena.check(ids, n * 4, `${what} ids`);
    const idv = this.i32(ids, n);
    for (let i = 0; i < n; i++) {
      const id = idv[i]!;
      if (!(id >= 0 && id < rows)) throw new BackendError(`${what}: row ids must lie in [0, ${rows}), got ${id}`);
    }
  }

  private checkQuant(what: string, rows: number, cols: number, groupSize: number, q4: boolean): void {
    dims(what, rows, cols);
    if (!Number.isInteger(groupSize) || groupSize < 1 || cols % groupSize !== 0) {
      throw new BackendError(`${what}: groupSize ${groupSize} must be a positive divisor of cols ${cols}`);
    }
    if (q4 && groupSize % 2 !== 0 && groupSize !== cols) {
      throw new BackendError(`${what}: int4 groupSize ${groupSize} must be even (or equal cols) so groups start on a byte`);
    }
  }
}

export function elemBytes(dtype: DenseDtype): number {
  const esize = ELEM_BYTES[dtype];
  if (esize === undefined) throw new BackendError(`unknown weight dtype ${String(dtype)}; expected f32, bf16 or f16`);
  return esize;
}

export function dims(what: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1 || rows > 2 ** 30 || cols > 2 ** 30) {
    throw new BackendError(`${what}: bad shape [${rows}, ${cols}]`);
  }
}
