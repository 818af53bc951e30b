/**
 * THE backend interface. The decode path talks only to this; tfjs, WebGPU and WebAssembly types
 * never leave their own folders.
 *
 * A backend owns memory (matrices, vectors, KV caches) and runs kernels on it. Handles are opaque:
 * the caller never looks inside a Vec or Mat, it only passes them back. Kernels are enqueued in
 * call order; `read()` is the only way to get numbers out, and is async so that a GPU backend can
 * submit its queued work and map the result.
 */
import type {Activation} from '../numeric/activations.js';
import type {HostQuantMatrix} from '../numeric/quant.js';
import type {RopeTable} from '../model/rope.js';
import type {BlockFormat, HostMatrix, WeightDtype} from '../model/weights.js';

export type {HostQuantMatrix} from '../numeric/quant.js';
export type {RopeTable} from '../model/rope.js';
export type {BlockFormat, BlockHostMatrix, DenseHostMatrix, HostMatrix, WeightDtype} from '../model/weights.js';
export {hostMatrixBytes, hostMatrixF32, isBlockMatrix} from '../model/weights.js';

export type BackendName = 'reference' | 'cpu' | 'tfjs' | 'webgpu';
export const BACKEND_NAMES: readonly BackendName[] = ['reference', 'cpu', 'tfjs', 'webgpu'];


/** The predictors' own packed formats (numeric/quant.ts), not ggml's. */
export type QuantDtype = 'q8' | 'q4' | 'q2';
/** Main weights: dense (f32, f16, bf16) or ggml blocks (q8_0, q4_0); predictors: q8, q4, q2. */
export type MatDtype = WeightDtype | BlockFormat | QuantDtype;

/** Opaque device vector of f32 values. */
export interface Vec {
  readonly length: number;
}

/** Opaque device matrix `[rows, cols]`. */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly dtype: MatDtype;
  /** Bytes the backend reads when it multiplies by the whole matrix once. */
  readonly bytes: number;
}

/** Opaque per-sequence key/value cache for every layer. */
export interface KvCache {
  readonly nLayers: number;
  readonly maxSeqLen: number;
}

/** Element type of a KV cache: f32, or f16 (half the bytes; where supports('kvF16')). */
export type KvDtype = 'f32' | 'f16';

export interface KvShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  maxSeqLen: number;
  /** Default 'f32'. */
  dtype?: KvDtype;
}


export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/** How HiRE-FFN scores its groups (hire/ffn/groups.ts): the backend form of its GroupPick. */
export interface GroupScoreSpec {
  activation: Activation;
  gated: boolean;
  groupSize: number;
  score: 'max' | 'sum';
}

export type OpName =
  | 'matvec'
  | 'matvecRows'
  | 'accumulateRows'
  | 'rmsNorm'
  | 'layerNorm'
  | 'rope'
  | 'attention'
  | 'activation'
  | 'keepTopK'
  | 'topK'
  /** The batched kernels read each weight row once for the whole batch (not a loop per vector). */
  | 'sharedBatch'
  /** KV caches can hold f16 keys and values (KvShape.dtype 'f16'). */
  | 'kvF16';

/**
 * Which sequences of a batch need each row of a batched kernel: entry i is row i's mask, bit b set
 * for sequence b (so at most OWNERS_MAX_BATCH sequences). See Backend.matvecBatch.
 */
export type Owners = Uint32Array;
/** The most sequences an Owners mask can name. */
export const OWNERS_MAX_BATCH = 32;

/** The k largest entries of a vector, best first: their indices and their values. */
export interface TopK {
  ids: Int32Array;
  values: Float32Array;
}

export interface Backend {
  readonly name: BackendName;
  /** One line for logs, e.g. "cpu (wasm simd, 2 threads)". */
  describe(): string;
  /** The hardware it runs on where that is worth naming (webgpu: the adapter), else absent. */
  readonly hardware?: string;
  /** Test hook: the device stops working, as a lost GPU does (webgpu only). */
  loseDevice?(): void;
  /** Ask before assuming: whether an op is implemented (and fast) for weights of this dtype. */
  supports(op: OpName, dtype?: MatDtype): boolean;

  // ---- memory -------------------------------------------------------------------------------
  /** A main-weight matrix, dense or in ggml blocks; every kernel below takes both. */
  uploadMatrix(m: HostMatrix): Mat;
  /** A quantised matrix; matvec on it computes dequant(W) x. */
  uploadQuantMatrix(q: HostQuantMatrix): Mat;
  uploadVector(data: Float32Array): Vec;
  createVector(length: number): Vec;
  /**
   * n vectors of `length` floats for the rows of a block (a prompt's tokens): a backend may lay
   * them out as one [n, length] block so that its batched kernels run on them in place (cpu does).
   */
  createVectors(n: number, length: number): Vec[];
  /** A KV cache; shape.dtype 'f16' only where supports('kvF16') (else a BackendError). */
  createKvCache(shape: KvShape): KvCache;
  /**
   * Frees a cache's memory now; using it afterwards is an error. A cache that is only dropped is
   * freed once it is garbage-collected, which may be late: release caches you are done with.
   */
  releaseKvCache(cache: KvCache): void;
  /** Resolves with positions 0 .. n - 1 of a layer's keys and values, each f32 [n, nKvHeads * headDim]. */
  readKvCache(cache: KvCache, layer: number, n: number): Promise<{keys: Float32Array; values: Float32Array}>;
  /** Overwrites a vector with host data (same length). */
  write(dst: Vec, src: Float32Array): void;
  /** Resolves with a copy of the vector's values once every queued kernel has run. */
  read(src: Vec): Promise<Float32Array>;

  // ---- kernels: out may not alias inputs unless stated --------------------------------------
  /** out = W x (+ bias). W: [rows, cols], x: [cols], out: [rows]. */
  matvec(w: Mat, x: Vec, out: Vec, bias?: Vec): void;
  /** out[i] = W[rows[i]] . x for the listed rows. out: [rows.length]. */
  matvecRows(w: Mat, rows: Int32Array, x: Vec, out: Vec): void;
  /**
   * out = sum_i coef[i] * W[rows[i]] (+ bias): a weighted sum of rows, i.e. W^T restricted to the
   * listed rows times coef. With rows null every row is used in order (out = W^T coef). This is the
   * sparse FFN's second half: W_out stored transposed ([hiddenDim, dim]) so that one neuron is one
   * contiguous row. W: [R, cols], coef: [rows.length] (or [R]), out: [cols].
   */
  accumulateRows(w: Mat, rows: Int32Array | null, coef: Vec, out: Vec, bias?: Vec): void;
  /**
   * Batched forms for decoding several sequences at once: the same result as calling the
   * unbatched kernel for each b, but a backend may read each weight row once for all of them
   * (cpu does; the others loop).
   *
   * `owners` (only where xs / coefs has at most 32 vectors; see Owners): one 32-bit mask per
   * output row of a matvec (per listed row of matvecRowsBatch, per row of W for matvecBatch) or
   * per summed row of accumulateRowsBatch; bit b set = sequence b needs that row. Matvec entries
   * a sequence does not own are then UNSPECIFIED but finite (0 where a backend skips them, plus
   * the bias where one is given); owned entries are what the call gives without owners, bit for
   * bit (cpu: the batched row kernels' bits; where the call without owners would run the
   * matrix-matrix kernel, dense weights and at least GEMM_MIN_ROWS vectors, the owner-aware call
   * runs the batched row kernels instead, whose summation order differs in the last bits). In
   * accumulateRowsBatch a row adds nothing to the sums of the sequences that do not own it, which
   * is what a coefficient of 0 gives (callers pass 0 there anyway). So a backend may ignore
   * owners; cpu skips the work they exclude.
   */
  matvecBatch(w: Mat, xs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void;
  /**
   * Optional, for a predictor's int8 / int4 matrix (uploadQuantMatrix): outs[b] = dequant(W) xs[b]
   * with each x first rounded to 8 bits per quantisation group, so that every product is an
   * integer (cpu: about 2x the f32 kernels). For the FFN predictors, whose scores only pick groups;
   * not for the softmax predictor, whose certified bounds assume the f32 products. One vector or
   * several (each row read once for all). Returns false, queuing nothing, where the backend has no
   * such kernel for W or keeps f32 activations (cpu: blockActivations 'f32').
   */
  matvecRoundedBatch?(w: Mat, xs: Vec[], outs: Vec[]): boolean;
  matvecRowsBatch(w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[], owners?: Owners): void;
  accumulateRowsBatch(w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec, owners?: Owners): void;
  /** out = row `row` of W as f32 (token or position embedding lookup). */
  embedRow(w: Mat, row: number, out: Vec): void;
  /** out = a + b (out may alias a or b). */
  add(a: Vec, b: Vec, out: Vec): void;
  /** out = a * b elementwise (out may alias a or b). */
  mul(a: Vec, b: Vec, out: Vec): void;
  /** out = x / rms(x) * weight (out may alias x). */
  rmsNorm(x: Vec, weight: Vec, eps: number, out: Vec): void;
  /** out = (x - mean) / std * weight + bias (out may alias x). */
  layerNorm(x: Vec, weight: Vec, bias: Vec, eps: number, out: Vec): void;
  /** In place: rotate each of nHeads heads of x (rotate_half layout) for position pos. */
  rope(x: Vec, nHeads: number, pos: number, table: RopeTable): void;
  /** out = act(x) (out may alias x). */
  activation(kind: Activation, x: Vec, out: Vec): void;
  /**
   * Optional (HiRE-FFN, docs/ARCHITECTURE.md): queues out[grp] = the group scores of a predictor
   * output `pred` ([gate~; up~], or u~ when not gated), bit for bit what hire/ffn/groups.ts
   * computes on the host (neuronScores, then groupScores), so that only the group scores need to
   * be read back. Returns false, queuing nothing, where the backend has no kernel for the
   * activation (the caller then reads `pred` and scores on the host). out: [neurons / groupSize].
   */
  ffnGroupScores?(pred: Vec, spec: GroupScoreSpec, out: Vec): boolean;
  /**
   * Optional (HiRE-FFN): a gated FFN's listed neurons in one call: upOut[i] = W_up[rows[i]] . x,
   * out[i] = act(W_gate[rows[i]] . x) * upOut[i], bit for bit what matvecRows, activation and mul
   * give one after another. Returns false, queuing nothing, where the backend has no such kernel
   * for these weights or this activation (the caller then makes those calls).
   */
  ffnGatedRows?(gate: Mat, up: Mat, rows: Int32Array, x: Vec, activation: Activation, out: Vec, upOut: Vec): boolean;
  /**
   * In place: keep the k largest entries of x (by |x| when byMagnitude, else by value; ties to
   * the lower index, as topKIndices orders them) and set every other entry to 0 (top-k FFN).
   */
  keepTopK(x: Vec, k: number, byMagnitude: boolean): void;
  /**
   * Resolves with the min(k, n) largest entries of x, best first, ties to the lower index (the
   * order of topKIndices; NaN ranks as -Infinity), once every queued kernel has run. Only these
   * k (id, value) pairs need to leave the device (HiRE's candidate stage).
   */
  topK(x: Vec, k: number): Promise<TopK>;
  /**
   * Stores k, v at position pos of layer `layer` in the cache, then attends q over positions
   * 0..pos (causal). q/out: [nHeads * headDim]; k, v: [nKvHeads * headDim].
   */
  attention(q: Vec, k: Vec, v: Vec, cache: KvCache, layer: number, pos: number, shape: AttentionShape, out: Vec): void;
  /**
   * A block of one sequence's rows at positions pos0 .. pos0 + n - 1 (n = qs.length, a prompt
   * block): the same as attention() for each row in order (each row's k, v go into the cache, then
   * its q attends over positions 0 .. its own), which a backend may run as one kernel.
   */
  attentionRows(qs: Vec[], ks: Vec[], vs: Vec[], cache: KvCache, layer: number, pos0: number, shape: AttentionShape, outs: Vec[]): void;
  /**
   * Optional: one row of each of several sequences (a batched decoding step; the caches are
   * distinct): the same as attention(qs[i], ks[i], vs[i], caches[i], layer, positions[i], shape,
   * outs[i]) for every i, run as one kernel. Returns false, queuing nothing, where the backend has
   * no such kernel (the caller then makes those calls).
   */
  attentionSeqs?(qs: Vec[], ks: Vec[], vs: Vec[], caches: KvCache[], layer: number, positions: readonly number[], shape: AttentionShape, outs: Vec[]): boolean;

  // ---- row blocks: each is the per-vector kernel above applied to every row of a block (a
  // prompt block, a batch), with the same aliasing rules; a backend may run it as one kernel
  rmsNormRows(xs: Vec[], weight: Vec, eps: number, outs: Vec[]): void;
  layerNormRows(xs: Vec[], weight: Vec, bias: Vec, eps: number, outs: Vec[]): void;
  activationRows(kind: Activation, xs: Vec[], outs: Vec[]): void;
  addRows(as: Vec[], bs: Vec[], outs: Vec[]): void;
  mulRows(as: Vec[], bs: Vec[], outs: Vec[]): void;
  /** Row i rotated for positions[i]. */
  ropeRows(xs: Vec[], nHeads: number, positions: readonly number[], table: RopeTable): void;

  /**
   * Optional, for backends whose read() / topK() can wait long for queued work (cpu: a slow or
   * hung worker thread): while `signal` is set, such a wait rejects with AbortError once it
   * fires, and the work queued behind it is dropped. undefined clears it.
   */
  abortWaits?(signal: AbortSignal | undefined): void;

  /** Frees everything this backend allocated. */
  dispose(): void;
}

/**
 * The batched kernels as loops over the unbatched ones, for backends without a batched path
 * (correct; no weight is shared between the sequences).
 */
export const LOOPED_BATCH = {
  // owners are ignored (allowed: every entry is computed, and callers zero the coefficients)
  matvecBatch(this: Backend, w: Mat, xs: Vec[], outs: Vec[], bias?: Vec, _owners?: Owners): void {
    xs.forEach((x, b) => this.matvec(w, x, outs[b]!, bias));
  },
  matvecRowsBatch(this: Backend, w: Mat, rows: Int32Array, xs: Vec[], outs: Vec[], _owners?: Owners): void {
    xs.forEach((x, b) => this.matvecRows(w, rows, x, outs[b]!));
  },
  accumulateRowsBatch(this: Backend, w: Mat, rows: Int32Array | null, coefs: Vec[], outs: Vec[], bias?: Vec, _owners?: Owners): void {
    coefs.forEach((c, b) => this.accumulateRows(w, rows, c, outs[b]!, bias));
  },
};

/**
 * The block operations as loops, for backends without a block layout or a block kernel: one
 * vector per row, attention one row at a time (correct; nothing is shared between the rows).
 */
export const LOOPED_ROWS = {
  createVectors(this: Backend, n: number, length: number): Vec[] {
    return Array.from({length: n}, () => this.createVector(length));
  },
  attentionRows(this: Backend, qs: Vec[], ks: Vec[], vs: Vec[], cache: KvCache, layer: number, pos0: number, shape: AttentionShape, outs: Vec[]): void {
    qs.forEach((q, i) => this.attention(q, ks[i]!, vs[i]!, cache, layer, pos0 + i, shape, outs[i]!));
  },
  rmsNormRows(this: Backend, xs: Vec[], weight: Vec, eps: number, outs: Vec[]): void {
    xs.forEach((x, i) => this.rmsNorm(x, weight, eps, outs[i]!));
  },
  layerNormRows(this: Backend, xs: Vec[], weight: Vec, bias: Vec, eps: number, outs: Vec[]): void {
    xs.forEach((x, i) => this.layerNorm(x, weight, bias, eps, outs[i]!));
  },
  activationRows(this: Backend, kind: Activation, xs: Vec[], outs: Vec[]): void {
    xs.forEach((x, i) => this.activation(kind, x, outs[i]!));
  },
  addRows(this: Backend, as: Vec[], bs: Vec[], outs: Vec[]): void {
    as.forEach((a, i) => this.add(a, bs[i]!, outs[i]!));
  },
  mulRows(this: Backend, as: Vec[], bs: Vec[], outs: Vec[]): void {
    as.forEach((a, i) => this.mul(a, bs[i]!, outs[i]!));
  },
  ropeRows(this: Backend, xs: Vec[], nHeads: number, positions: readonly number[], table: RopeTable): void {
    xs.forEach((x, i) => this.rope(x, nHeads, positions[i]!, table));
  },
};

/** Bytes a batched kernel over all of W reads for n vectors: once when the backend shares the reads, else n times. */
export function batchReadBytes(backend: Backend, w: Mat, n: number, bytes = w.bytes): number {
  return backend.supports('sharedBatch', w.dtype) ? bytes : n * bytes;
}

/** Bytes per element of a weight dtype. */
export function weightBytes(dtype: WeightDtype): number {
  return dtype === 'f32' ? 4 : 2;
}

/** Bytes a quantised matrix occupies (packed values plus scales). */
export function quantMatrixBytes(q: HostQuantMatrix): number {
  return q.data.byteLength + q.scales.byteLength;
}

/** Dequantises a packed matrix to f32 (for backends without quantised kernels). */
export function dequantizeHost(q: HostQuantMatrix): Float32Array {
  const {bits, rows, cols, groupSize, data, scales} = q;
  const rowBytes = Math.ceil((cols * bits) / 8);
  const groups = Math.ceil(cols / groupSize);
  const out = new Float32Array(rows * cols);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const sign = 1 << (bits - 1);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const byte = data[r * rowBytes + Math.floor(c / perByte)]!;
      const field = bits === 8 ? byte : (byte >> ((c % perByte) * bits)) & mask;
      const v = (field ^ sign) - sign; // two's complement in `bits` bits
      out[r * cols + c] = v * scales[r * groups + Math.floor(c / groupSize)]!;
    }
  }
  return out;
}
