/**
 * Every default of the library API and of the CLI flags, written once. The API fills a missing
 * option from here and src/cli/flags.ts builds each flag's `default` from here, so the same
 * options give the same result from code and from the command line, and `--help` shows these
 * values. Defaults the core tasks own (the ks calibration measures, evaluation's token counts, the
 * device slack) are read from there, not copied.
 */
import type {BackendName, KvDtype} from '../core/backends/backend.js';
import type {SoftmaxKind} from '../core/hire/predictor/predictor.js';
import type {QuantBits} from '../core/numeric/quant.js';
import {DEMO_BUNDLE_DIR, DEMO_MODEL_DIR} from '../core/model/defaults.js';
import {DEFAULT_FFN_SLACK} from '../core/parallel/shard-ffn-select.js';
import {DEFAULT_KS, DEFAULT_RECALL_TARGETS} from '../core/tasks/calibrate/calibrate.js';
import {DEFAULT_EVAL_WINDOW_CAP} from '../core/tasks/evaluate/evaluate.js';
import type {Split} from '../core/tasks/corpus.js';

import type {BenchDtype} from '../core/tasks/bench/models.js';
import type {TopKMode as MergeMode} from '../core/parallel/distributed-model.js';

/** cpu: how the activations meet ggml block weights in the dot products. */
export type BlockActivations = 'f32' | 'int16' | 'int8';
export type {BenchDtype, MergeMode, KvDtype};
/** HiRE-FFN while decoding: the bundle's sparse FFN when it has one ('auto'), or the dense FFN ('off'). */
export type FfnMode = 'auto' | 'off';
/** How HiRE's log-probabilities treat the rows outside the k' candidates. */
export type LogprobsTail = 'drop' | 'estimate';

const RECALL = 0.99;

export const DEFAULTS = deepFreeze({
  /** Compute backend of every command and API call. */
  backend: 'cpu' as BackendName,
  /**
   * cpu: activations of the dot products on ggml block weights (q8_0, q4_0): int8 (q4_0 weights
   * take them rounded to 8 bits per block of 32, as llama.cpp does, q8_0 weights to 16 bits;
   * int16 where the runtime lacks relaxed SIMD), int16 (rounded to 16 bits per block of 32,
   * integer products: 1.2-1.4x the decode speed of f32, perplexity within 0.01% of f32) or f32
   * (exact to f32 rounding, what the parity tests check). All but f32 also round the input of a
   * HiRE-FFN predictor's int8/int4 matrix to 8 bits per group. README "Quantised weights".
   */
  blockActivations: 'int8' as BlockActivations,
  /** Element type of the KV cache (generate, eval, bench): 'f16' halves the bytes decoding at long contexts reads (cpu backend). */
  kvDtype: 'f32' as KvDtype,
  /** Where commands and API calls look when no model is given. */
  demo: {model: DEMO_MODEL_DIR, bundle: DEMO_BUNDLE_DIR},
  /** How the next token is chosen (generate, generateBatch, chat): penalties 1 / 0 and minP 0 are off. */
  sampling: {temperature: 0.8, topK: 40, topP: 0.95, minP: 0, seed: 42, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0},
  /** Most tokens one generation decodes, and whether an end-of-sequence id stops it. */
  maxTokens: 128,
  stopOnEos: true,
  /** Under HiRE, log-probabilities are normalised over the k' candidates ('drop') or with the predictor's estimate of the rest ('estimate'). */
  logprobsTail: 'drop' as LogprobsTail,
  /** score(): alternatives per position, and the dense output layer (exact log-probabilities). */
  score: {top: 0, dense: true},
  /** Mean recall@k target that picks k' from a bundle's table (generate, bench) or chooses the predictor (calibrate). */
  recall: RECALL,
  /** HiRE-FFN while decoding (generate, eval, bench) and the recall target that picks k'_g. */
  ffn: 'auto' as FfnMode,
  ffnRecall: RECALL,
  /** Several devices: the merge of the output layer's top-k and the FFN groups each device reads beyond its share. */
  merge: 'exact' as MergeMode,
  ffnSlack: DEFAULT_FFN_SLACK,
  calibrate: {
    /** The part of each calibration text read (and of the bundled corpus): its first 90%. */
    split: 'train' as Split,
    tokens: 4096,
    seqLen: 128,
    seed: 1,
    ks: [...DEFAULT_KS],
    /** Recall targets every bundle's k' tables hold (besides `recall`). */
    recallTargets: [...DEFAULT_RECALL_TARGETS],
    /** HiRE-FFN calibration: neurons per group, group score, static threshold, random swaps per neuron. */
    ffn: {groupSize: 8, score: 'max' as 'max' | 'sum', staticThreshold: 0.5, refine: 0, permute: true},
  },
  /**
   * Evaluation reads the whole text (no token cap), in windows of the model's context (at most
   * maxWindow tokens) with a stride of half a window; the part of each file read is the whole
   * of --data files and the validation split (last 10%) of the bundled corpus.
   */
  evaluate: {
    maxWindow: DEFAULT_EVAL_WINDOW_CAP,
    split: {data: 'all' as Split, bundled: 'validation' as Split},
    /** Without data files: the first this many tokens of the bundled corpus's split (a --data file is read whole). */
    bundledTokens: 4096,
  },
  /** createServer() and `hire serve`: loopback only, batch and queue bounds, per-request time (queue included), body cap, shutdown deadline. */
  serve: {host: '127.0.0.1', port: 8080, maxBatch: 16, maxQueue: 64, timeoutMs: 300_000, bodyLimit: 1 << 20, shutdownMs: 10_000},
  bench: {
    tokens: 32,
    promptTokens: 16,
    dtype: 'f32' as BenchDtype,
    probe: true,
    repeat: 1,
    /** Seconds of untimed decoding of every row before the timed runs (V8 optimises a small model's per-token code over its first thousands of tokens). */
    warmup: 2,
    /** A HiRE-Softmax row with a synthetic predictor (and the predictor of --output-layer). */
    hire: {kind: 'lowrank+quant' as SoftmaxKind, bits: 4 as QuantBits, kPrime: 512},
    /** HiRE-FFN rows with synthetic predictors. */
    /**
     * --synthetic-ffn: low-rank with an int4 factor, the kind calibration picks on q8_0/q4_0
     * weights and, with the FFN predictors' integer kernel, the fastest on cpu (docs/PERFORMANCE.md,
     * eighth session; f32 factors before it).
     */
    syntheticFfn: {kind: 'lowrank+quant' as SoftmaxKind, bits: 4 as QuantBits, groupSize: 8, topK: 0.1, read: 0.2},
    /** Device rows: the merge modes timed for every device count. */
    merges: ['exact', 'dat'] as MergeMode[],
    /** The output layer alone: a random [vocabSize, dim] matrix, timed over this many steps. */
    outputLayer: {vocabSize: 32000, dim: 2048, steps: 50},
  },
});

/** The defaults `generate()` and `hire generate` share, flat (the older public name). */
export const GENERATE_DEFAULTS = Object.freeze({
  ...DEFAULTS.sampling,
  maxTokens: DEFAULTS.maxTokens,
  recall: DEFAULTS.recall,
  stopOnEos: DEFAULTS.stopOnEos,
  logprobsTail: DEFAULTS.logprobsTail,
  backend: DEFAULTS.backend,
});

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? {readonly [K in keyof T]: DeepReadonly<T[K]>} : T;

function deepFreeze<T extends object>(o: T): DeepReadonly<T> {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) deepFreeze(v as object);
  return Object.freeze(o) as DeepReadonly<T>;
}
