/**
 * bench(): decode speed against the memory-bandwidth limit (weights and KV cache), dense against
 * HiRE-Softmax and HiRE-FFN, batched and on several devices, and prompt processing against the
 * compute limit, in this process. benchOutputLayer(): the output layer alone on a random matrix.
 * Missing options take DEFAULTS (DEFAULTS.bench). Never prints.
 */
import {UsageError} from '../core/errors.js';
import type {SoftmaxKind} from '../core/hire/predictor/predictor.js';
import type {QuantBits} from '../core/numeric/quant.js';
import {runBench, type BenchReport} from '../core/tasks/bench/run.js';
import {benchOutputLayer as benchOutputLayerCore, type OutputLayerReport} from '../core/tasks/bench/output-layer.js';
import {resolveModel} from './hub.js';
import type {SyntheticFfnSpec} from '../core/hire/ffn/synthetic-plans.js';
import {DEFAULTS, type BenchDtype, type MergeMode} from './defaults.js';
import {withoutUndefined} from './options.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {BenchReport, BenchRow, BatchRow} from '../core/tasks/bench/run.js';
export type {DeviceBenchReport, DeviceBenchRow} from '../core/tasks/bench/devices.js';
export type {OutputLayerReport, OutputLayerRow} from '../core/tasks/bench/output-layer.js';
export type {SyntheticFfnSpec} from '../core/hire/ffn/synthetic-plans.js';
export {shapeNames, BENCH_DTYPES} from '../core/tasks/bench/models.js';

/** A synthetic HiRE-Softmax predictor (random values: speed does not depend on them). */
export interface SyntheticHireOptions {
  kind?: SoftmaxKind;
  /** Default: calibration's default for the model width. */
  rank?: number;
  bits?: QuantBits;
  /** Candidates k' (on a bundle: instead of the k' its table gives for `recall`). */
  kPrime?: number;
}

/** Multi-device rows (DaT-Top-k). */
export interface BenchDevicesOptions {
  /** Device counts, e.g. [1, 2, 4]. */
  counts: number[];
  /** Merge modes timed for every count (default DEFAULTS.bench.merges: both). */
  merge?: MergeMode[];
  /** DaT slack per device (default: the bundle's calibrated slack, else a quarter of k'/devices). */
  slack?: number;
  /** HiRE-FFN recall target on a bundle with an FFN section (default DEFAULTS.ffnRecall). */
  ffnRecall?: number;
  /** HiRE-FFN groups each device reads beyond its share (default DEFAULTS.ffnSlack). */
  ffnSlack?: number;
}

export interface BenchOptions extends TaskOptions {
  /** Model directory, bundle or Hugging Face id (default: the demo bundle, unless `shape` is given). */
  model?: string;
  /** `model` may be a Hugging Face id; download it when the cache lacks it (default false). */
  download?: boolean;
  /** A named synthetic shape (seeded random weights, cached), e.g. 'llama-110m', instead of `model`. */
  shape?: string;
  /** Weight dtype of the synthetic shape: f32, bf16, f16, or ggml blocks q8_0, q4_0 (quantised from the f32 shape). */
  dtype?: BenchDtype;
  /** Backend and its threads (default: every core). */
  backend?: string;
  threads?: number;
  /** cpu: activations of the dot products on q8_0 / q4_0 weights: 'f32' (exact), 'int16' or 'int8' (faster, rounded; LoadOptions.blockActivations). */
  blockActivations?: 'f32' | 'int16' | 'int8';
  /** Tokens decoded, timed. */
  tokens?: number;
  /** Prompt tokens prefilled first. */
  promptTokens?: number;
  /** Decode at this context: the prompt prefilled first has this many tokens (overrides promptTokens). */
  context?: number;
  /** KV cache element type (f16 halves its bytes; cpu backend). */
  kvDtype?: 'f32' | 'f16';
  /** Measure the machine's streaming-read bandwidth (reads 512 MB or more) and multiply-add rate first. */
  probe?: boolean;
  /**
   * A HiRE-Softmax row on a model without a bundle: a random predictor of this kind and size.
   * Bundles always get a row from their own predictor (with `kPrime` given: at that k').
   */
  hire?: SyntheticHireOptions | null;
  /** Recall target for a bundle's k' table. */
  recall?: number;
  /**
   * HiRE-FFN rows on a model without a bundle: random predictors of this kind, reading this share
   * of each layer's groups (synthetic weights have no sparsity to predict). A bundle calibrated
   * with an FFN section always gets FFN rows from its own predictors.
   */
  ffn?: Partial<SyntheticFfnSpec> | null;
  /** Batch sizes also decoded together (dense and the sparsest mode). */
  batch?: number[];
  /** Time every row this many times, round-robin, and keep each row's median run. */
  repeat?: number;
  /** Seconds of untimed decoding of every row in turn before the timed runs (default DEFAULTS.bench.warmup, 2). */
  warmup?: number;
  /** Multi-device rows (null: none). */
  devices?: BenchDevicesOptions | null;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
}

export async function bench(options: BenchOptions = {}): Promise<BenchReport> {
  const b = DEFAULTS.bench;
  const progress = coreProgress('bench', options);
  const {devices, hire, ffn} = options;
  const ref = options.model ?? (options.shape ? undefined : DEFAULTS.demo.bundle);
  const model = ref === undefined ? undefined : (await resolveModel(ref, {download: options.download, onProgress: options.onProgress, signal: options.signal})).dir;
  return runBench({
    model,
    shape: options.shape,
    dtype: options.dtype ?? b.dtype,
    backend: options.backend ?? DEFAULTS.backend,
    threads: options.threads,
    blockActivations: options.blockActivations ?? DEFAULTS.blockActivations,
    context: options.context,
    kvDtype: options.kvDtype ?? DEFAULTS.kvDtype,
    tokens: options.tokens ?? b.tokens,
    promptTokens: options.promptTokens ?? b.promptTokens,
    probe: options.probe ?? b.probe,
    hire: hire ? {...b.hire, ...withoutUndefined(hire)} : null,
    recall: options.recall ?? DEFAULTS.recall,
    ffn: ffn ? {...b.syntheticFfn, ...withoutUndefined(ffn)} : ffn,
    batch: options.batch,
    repeat: options.repeat ?? b.repeat,
    warmup: options.warmup ?? b.warmup,
    devices: devices ? deviceOptions(devices) : null,
    verifyWeights: options.verifyWeights,
    onProgress: (stage) => progress(stage),
    onWarning: options.onWarning,
  });
}

function deviceOptions(d: BenchDevicesOptions) {
  const modes = d.merge ?? [...DEFAULTS.bench.merges];
  if (modes.length === 0 || modes.some((m) => m !== 'exact' && m !== 'dat')) throw new UsageError('devices.merge must be exact, dat, or both', {option: 'devices.merge'});
  return {counts: d.counts, modes, slack: d.slack, ffnRecall: d.ffnRecall ?? DEFAULTS.ffnRecall, ffnSlack: d.ffnSlack ?? DEFAULTS.ffnSlack};
}

export interface OutputLayerOptions extends TaskOptions {
  /** Rows and width of the random output layer. */
  vocabSize?: number;
  dim?: number;
  /** The synthetic predictor and its candidates k' (default DEFAULTS.bench.hire; rank: min(256, dim)). */
  kind?: SoftmaxKind;
  rank?: number;
  bits?: QuantBits;
  kPrime?: number;
  backend?: string;
  threads?: number;
  /** Timed steps per head. */
  steps?: number;
}

/** The output layer alone: dense z = W h against HiRE-Softmax on the same random W, timed in one run. */
export async function benchOutputLayer(options: OutputLayerOptions = {}): Promise<OutputLayerReport> {
  const o = {...DEFAULTS.bench.outputLayer, ...DEFAULTS.bench.hire, backend: DEFAULTS.backend, ...withoutUndefined(options)};
  const progress = coreProgress('bench', options);
  return benchOutputLayerCore({
    vocabSize: o.vocabSize,
    dim: o.dim,
    kPrime: o.kPrime,
    kind: o.kind,
    rank: o.rank ?? Math.min(256, o.dim),
    bits: o.bits,
    backend: o.backend,
    threads: o.threads,
    steps: o.steps,
    onProgress: (stage) => progress(stage),
  });
}
