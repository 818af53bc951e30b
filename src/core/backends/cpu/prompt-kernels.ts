/**
 * JS wrappers of the kernels for blocks of rows (a prompt's tokens) and of attention over a KV
 * cache in the shared memory: the blocked matrix-matrix product, storing keys and values, and
 * attention split over threads by heads. Kept apart from kernels.ts, which wraps the per-token
 * matvec kernels; both check every pointer against the allocated memory before a call.
 */
import {BackendError} from '../../errors.js';
import {dims, elemBytes, ROW_ALIGN, type CpuKernels, type DenseDtype} from './kernels.js';
import {partLength} from './control.js';
import {f32Bits} from './row-kernels.js';

/** Element types a KV cache can hold. */
export type KvDtype = 'f32' | 'f16';

/** Rows of the weights a thread widens at a time (must match $gemm_any's block of 32). */
const GEMM_BLOCK_ROWS = 32;

/** The pool's chunk for `count` items in multiples of `align` over every thread (see splitRange). */
function chunkOf(k: CpuKernels, count: number, align: number): number {
  return Math.max(align, partLength(count, k.threads, align));
}

/**
 * ys[b * rows + r] = W[r] . xs[b] (+ bias[r] when bias is nonzero) for b < nb: W [rows, cols] of
 * `dtype` at w, xs [nb, cols] and ys [nb, rows] f32. cols must be a multiple of 4. Each thread
 * takes a share of the rows and reads each of them once for all nb vectors.
 */
export function gemm(k: CpuKernels, dtype: DenseDtype, w: number, rows: number, cols: number, xs: number, ys: number, nb: number, bias = 0): void {
  const esize = elemBytes(dtype);
  dims('gemm', rows, cols);
  if (cols % 4 !== 0) throw new BackendError(`gemm: cols must be a multiple of 4, got ${cols}`);
  if (!Number.isInteger(nb) || nb < 1) throw new BackendError(`gemm: nb must be a positive integer, got ${nb}`);
  k.check(w, rows * cols * esize, 'gemm w');
  k.check(xs, nb * cols * 4, 'gemm xs');
  k.check(ys, nb * rows * 4, 'gemm ys');
  if (bias !== 0) k.check(bias, rows * 4, 'gemm bias');
  if (rows === 0) return;
  const chunk = chunkOf(k, rows, ROW_ALIGN);
  const mark = k.mark();
  try {
    // weights go a block at a time into each thread's own scratch (f32 copied, 16-bit widened); a call left
    // running keeps writing it, but nothing else writes the arena until the call is over (every
    // later operation waits in the queue), so it may be reset now.
    const scratch = k.alloc(Math.ceil(rows / chunk) * GEMM_BLOCK_ROWS * cols * 4);
    k.runKernel(`gemm_${dtype}`, [w, xs, ys, cols, rows, nb, bias, scratch, chunk], rows, ROW_ALIGN, rows * cols * esize);
  } finally {
    k.reset(mark);
  }
}

/** Where one layer of a KV cache lives and how it is laid out (kv head g, position j at (g * maxLen + j) * headDim). */
export interface KvLayer {
  dtype: KvDtype;
  keys: number;
  values: number;
  nKvHeads: number;
  headDim: number;
  maxLen: number;
}

/** Bytes of one of a layer's two halves (keys or values). */
export function kvHalfBytes(l: Omit<KvLayer, 'keys' | 'values'>): number {
  return l.nKvHeads * l.maxLen * l.headDim * (l.dtype === 'f16' ? 2 : 4);
}

/**
 * Stores n rows of keys and values (f32 [nKvHeads * headDim] each, row t at ks/vs + t * stride)
 * at positions pos0 .. pos0 + n - 1 of the layer.
 */
export function kvStore(k: CpuKernels, layer: KvLayer, ks: number, vs: number, stride: number, pos0: number, n: number): void {
  const {nKvHeads, headDim, maxLen} = layer;
  if (!(pos0 >= 0 && pos0 + n <= maxLen)) throw new BackendError(`kvStore: positions ${pos0}..${pos0 + n - 1} outside the cache (0..${maxLen - 1})`);
  const kvDim = nKvHeads * headDim;
  k.check(ks, (n - 1) * stride + kvDim * 4, 'kvStore keys');
  k.check(vs, (n - 1) * stride + kvDim * 4, 'kvStore values');
  const half = kvHalfBytes(layer);
  k.check(layer.keys, half, 'kvStore key cache');
  k.check(layer.values, half, 'kvStore value cache');
  const name = layer.dtype === 'f16' ? 'kv_store_f16' : 'kv_store_f32';
  k.runKernel(name, [ks, stride, layer.keys, headDim, nKvHeads, maxLen, pos0], n, 1, 0);
  k.runKernel(name, [vs, stride, layer.values, headDim, nKvHeads, maxLen, pos0], n, 1, 0);
}

/** A block of query rows for attend(): rows at consecutive positions pos0 .. pos0 + n - 1. */
export interface AttendRows {
  /** Row t's query [nHeads * headDim] at qs + t * qStride, its output at outs + t * outStride. */
  qs: number;
  qStride: number;
  outs: number;
  outStride: number;
  n: number;
  pos0: number;
  nHeads: number;
}

/**
 * Causal attention of every row's heads over positions 0 .. its own (whose keys and values must
 * be stored already), split over threads by heads (whole kv heads when there are enough of them,
 * so that each kv head's keys and values are read by one thread).
 */
export function attend(k: CpuKernels, layer: KvLayer, rows: AttendRows): void {
  const {nKvHeads, headDim, maxLen} = layer;
  const {n, pos0, nHeads} = rows;
  if (!(n >= 1 && pos0 >= 0 && pos0 + n <= maxLen)) throw new BackendError(`attend: positions ${pos0}..${pos0 + n - 1} outside the cache (0..${maxLen - 1})`);
  if (!(nHeads >= nKvHeads && nHeads % nKvHeads === 0)) throw new BackendError(`attend: ${nHeads} query heads over ${nKvHeads} kv heads`);
  const group = nHeads / nKvHeads;
  const qDim = nHeads * headDim;
  k.check(rows.qs, (n - 1) * rows.qStride + qDim * 4, 'attend queries');
  k.check(rows.outs, (n - 1) * rows.outStride + qDim * 4, 'attend outputs');
  const half = kvHalfBytes(layer);
  k.check(layer.keys, half, 'attend key cache');
  k.check(layer.values, half, 'attend value cache');
  const items = nHeads * n;
  const align = nKvHeads >= k.threads ? n * group : n;
  const chunk = chunkOf(k, items, align);
  const positions = pos0 + n;
  const mark = k.mark();
  try {
    const scratch = k.alloc(Math.ceil(items / chunk) * 2 * positions * 4); // two rows' scores a thread
    const args = [rows.qs, layer.keys, layer.values, rows.outs, scratch, n, pos0, headDim, group, maxLen, rows.qStride, rows.outStride, f32Bits(1 / Math.sqrt(headDim)), chunk];
    // bytes read: every row reads its heads' keys and values up to its position
    const work = n * (pos0 + (n + 1) / 2) * nKvHeads * headDim * 2 * (layer.dtype === 'f16' ? 2 : 4);
    k.runKernel(layer.dtype === 'f16' ? 'attend_f16' : 'attend_f32', args, items, align, work);
  } finally {
    k.reset(mark);
  }
}

/** One sequence's row for attendSeqs(): f32 vectors (byte offsets) and its position. */
export interface SeqRow {
  /** Query [nHeads * headDim] and output (same length). */
  q: number;
  out: number;
  /** Its new key and value rows [nKvHeads * headDim], stored at `pos` before it attends. */
  k: number;
  v: number;
  pos: number;
}

/** Bytes of one sequence's descriptor in attend_seqs (kernels.wat). */
const SEQ_DESC_BYTES = 32;

/**
 * One row of each of several sequences (a batched decoding step), sequence i's keys and values
 * in layers[i] (one layer of its own cache): stores each row's key and value at its position,
 * then attends it over positions 0 .. pos; one kernel call for all of them, split over threads by
 * (sequence, kv head). The same bits as kvStore + attend for each sequence alone. The layers must
 * be distinct (two rows of one sequence are a block: attend()) and share dtype and head shape.
 */
export function attendSeqs(k: CpuKernels, layers: readonly KvLayer[], rows: readonly SeqRow[], nHeads: number): void {
  const ns = rows.length;
  if (ns === 0) return;
  if (layers.length !== ns) throw new BackendError(`attendSeqs: ${layers.length} cache layers for ${ns} rows`);
  const {dtype, nKvHeads, headDim} = layers[0]!;
  if (!(nHeads >= nKvHeads && nHeads % nKvHeads === 0)) throw new BackendError(`attendSeqs: ${nHeads} query heads over ${nKvHeads} kv heads`);
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const esize = dtype === 'f16' ? 2 : 4;
  let maxPos = 0;
  let work = 0;
  const caches = new Set<number>();
  for (let i = 0; i < ns; i++) {
    const l = layers[i]!;
    const r = rows[i]!;
    if (l.dtype !== dtype || l.nKvHeads !== nKvHeads || l.headDim !== headDim) {
      throw new BackendError(`attendSeqs: cache ${i} holds ${l.nKvHeads} ${l.dtype} kv heads of ${l.headDim}, cache 0 ${nKvHeads} ${dtype} of ${headDim}`);
    }
    if (!(Number.isInteger(r.pos) && r.pos >= 0 && r.pos < l.maxLen)) throw new BackendError(`attendSeqs: position ${r.pos} outside the cache (0..${l.maxLen - 1})`);
    if (caches.has(l.keys)) throw new BackendError(`attendSeqs: row ${i} shares a cache with an earlier row (a block of one sequence goes to attend)`);
    caches.add(l.keys);
    k.check(r.q, qDim * 4, 'attendSeqs query');
    k.check(r.out, qDim * 4, 'attendSeqs output');
    k.check(r.k, kvDim * 4, 'attendSeqs key');
    k.check(r.v, kvDim * 4, 'attendSeqs value');
    const half = kvHalfBytes(l);
    k.check(l.keys, half, 'attendSeqs key cache');
    k.check(l.values, half, 'attendSeqs value cache');
    maxPos = Math.max(maxPos, r.pos + 1);
    work += (r.pos + 1) * kvDim * 2 * esize;
  }
  const items = ns * nKvHeads;
  const chunk = chunkOf(k, items, 1);
  const mark = k.mark();
  try {
    const desc = k.alloc(ns * SEQ_DESC_BYTES);
    const d = k.i32(desc, ns * (SEQ_DESC_BYTES / 4));
    for (let i = 0; i < ns; i++) {
      const l = layers[i]!;
      const r = rows[i]!;
      d.set([r.q, r.k, r.v, l.keys, l.values, r.out, r.pos, l.maxLen], i * (SEQ_DESC_BYTES / 4));
    }
    const scratch = k.alloc(Math.ceil(items / chunk) * maxPos * 4);
    const args = [desc, headDim, nKvHeads, nHeads / nKvHeads, f32Bits(1 / Math.sqrt(headDim)), scratch, maxPos, chunk];
    k.runKernel(dtype === 'f16' ? 'attend_seqs_f16' : 'attend_seqs_f32', args, items, 1, work);
  } finally {
    k.reset(mark);
  }
}

/** Multiply-adds per second of the kernels' own tile on every thread, over data in L1 (compute_probe). */
export interface ComputeRate {
  /** Best rate over the repeats, all threads together, in flop/s (a multiply-add counts 2). */
  flopsPerSecond: number;
  threads: number;
}

/** Flops of one compute_probe unit (64 tiles of 4 x 2 dot products over 256 columns). */
const PROBE_UNIT_FLOPS = 64 * 8 * 256 * 2;

/**
 * The compute probe: the block kernel's 4 x 2 tile run over 6 KiB of L1-resident data on every
 * thread, best of `repeats` timed runs of about `seconds` each after untimed ones that let the
 * engine tier the kernel up. It is the rate the matrix-matrix kernel could reach if memory,
 * blocking and the other work cost nothing.
 */
export function measureCompute(k: CpuKernels, opts: {repeats?: number; seconds?: number} = {}): ComputeRate {
  const repeats = opts.repeats ?? 3;
  const seconds = opts.seconds ?? 0.05;
  const mark = k.mark();
  try {
    const buf = k.alloc(6144 + 64);
    k.f32(buf, 6144 / 4 + 16).fill(0.001);
    const sink = buf + 6144;
    const run = (units: number): number => {
      const t0 = performance.now();
      k.runKernel('compute_probe', [buf, sink], units, 1, Infinity);
      return (performance.now() - t0) / 1000;
    };
    let units = 64 * k.threads;
    for (let i = 0; i < 8; i++) run(units); // tier-up
    // size a run to about `seconds`
    while (run(units) < seconds / 4 && units < 2 ** 24) units *= 2;
    units = Math.max(units, Math.round((units * seconds) / Math.max(1e-6, run(units))));
    let best = 0;
    for (let i = 0; i < repeats; i++) best = Math.max(best, (units * PROBE_UNIT_FLOPS) / run(units));
    return {flopsPerSecond: best, threads: k.threads};
  } finally {
    k.reset(mark);
  }
}
