/**
 * The types of the forward pass (decode/forward.ts): the weights it reads, the rows of a step, the
 * hooks a caller installs (FFN overrides, a profiler, a calibration probe, collectives across
 * devices), its options and the statistics of a step. Kept apart so that the pass itself reads top
 * to bottom.
 */
import type {KvCache, KvDtype, Mat, Vec} from '../backends/backend.js';
import type {Norm} from './weights.js';

/**
 * One transformer block as the forward pass reads it. Matrices are [out, in] so that y = W x. On a
 * device of a group a matrix is null when the device holds none of its rows (no heads, no neurons).
 */
export interface ForwardLayer {
  attnNorm: Norm; // [dim]
  wq: Mat | null; // (nHeads * headDim, dim)
  wk: Mat | null; // (nKvHeads * headDim, dim)
  wv: Mat | null; // (nKvHeads * headDim, dim)
  wo: Mat | null; // (dim, nHeads * headDim)
  bq?: Vec;
  bk?: Vec;
  bv?: Vec;
  bo?: Vec;
  ffnNorm: Norm; // [dim]
  wGate?: Mat | null; // (hiddenDim, dim), gated FFN only
  wUp: Mat | null; // (hiddenDim, dim)
  wDown?: Mat | null; // (dim, hiddenDim)
  wDownT?: Mat | null; // (hiddenDim, dim): W_out as one row per neuron
  bGate?: Vec;
  bUp?: Vec;
  bDown?: Vec;
}

/** The weights the forward pass reads; ModelWeights is one, a device's shard view another. */
export interface ForwardWeights {
  embed?: Mat; // (vocabSize, embedDim); absent on devices (they receive embeddings)
  positions?: Mat; // (maxPositions, dim), learned positions only
  projectIn?: Mat; // (dim, embedDim)
  projectOut?: Mat; // (embedDim, dim)
  layers: ForwardLayer[];
  finalNorm?: Norm;
  lmHead?: Mat; // (vocabSize, embedDim): the dense output layer, for forward()
}

/** The rows of one step. */
export interface StepRows {
  /** Token id of each row; null when `inputs` carries the rows' input embeddings. */
  tokens: readonly number[] | null;
  /** [rows * dim] input embeddings (position embedding included), when tokens is null. */
  inputs?: Float32Array;
  /** Position of each row in its sequence. */
  positions: readonly number[];
  /** KV cache of each row's sequence (rows of one sequence share it). */
  caches: readonly KvCache[];
  /**
   * Rows whose final hidden states the caller needs, ascending (default: every row). The last
   * layer stores every row's keys and values, then runs the rest of the layer (output
   * projection, FFN, final norm) for these rows only; run() returns their states in this order.
   * A prompt block whose logits matter only at its last token passes just that row.
   */
  outputs?: readonly number[];
}

/** Where a step's time goes; `hire bench` installs one to print a per-component breakdown. */
export type Section = 'embed' | 'attention' | 'ffn' | 'output';
export interface StepTimer {
  /** Called at the end of each section; the timer attributes the time since its last call. */
  mark(section: Section): void;
}

/** What a replaced FFN did in one step: weight bytes read, and for sparse FFNs the groups read. */
export interface FfnRunInfo {
  bytes: number;
  /** Groups read for all rows together, and per row alone (null for a dense replacement). */
  groups: {union: number; perRow: number} | null;
}

/**
 * A replacement for one layer's dense FFN (HiRE-FFN, a device's share of the neurons): given the
 * FFN inputs xs [dim] of every row it writes each row's FFN output [dim] (without the output bias
 * when the model runs on several devices: the all-reduce adds it once).
 */
export interface FfnOverride {
  /**
   * The FFN of every row (a decode step, a batch, a prompt block), each row's result its own: a
   * row's output must not depend on which rows share its block, so that a prompt gives the same
   * hidden states prefilled at once, in chunks or beside other sequences.
   */
  run(xs: Vec[], outs: Vec[]): Promise<FfnRunInfo>;
}

/** Sees every dense FFN's input and hidden activations (before top-k); calibration installs one. */
export interface FfnProbe {
  ffn(layer: number, x: Vec, hidden: Vec): Promise<void>;
}

/** The devices' side of a sharded forward pass; absent on a single device. */
export interface Collectives {
  /** parts[i] becomes the sum over every device of its parts[i], in device order (same bits everywhere). */
  allReduce(parts: Vec[]): Promise<void>;
}

/** Statistics of the last step. */
export interface StepStats {
  rows: number;
  /** Weight bytes the step read (shared reads counted once where the backend batches them). */
  bytes: number;
  /** Mean over sparse FFN layers: groups read for the step's rows together, and per row alone. */
  unionGroups: number | null;
  groupsPerRow: number | null;
}

export interface ForwardOptions {
  /** Attention heads this forward computes (a device's share); default the model's. */
  heads?: {nHeads: number; nKvHeads: number};
  /** Present on a device of a group. */
  collectives?: Collectives;
  /** Element type of the KV caches this forward makes (default 'f32'; 'f16' where the backend supports 'kvF16'). */
  kvDtype?: KvDtype;
  /** Most rows one prefill block runs (default PREFILL_CHUNK): bounds the memory a long prompt takes. */
  prefillChunk?: number;
}
