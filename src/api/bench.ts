/**
 * bench(): decode speed against the memory-bandwidth limit (weights and KV cache), dense against
 * HiRE, and prompt processing against the compute limit, in this process. Never prints.
 */
import {runBench, type BenchReport} from '../core/tasks/bench/run.js';
import type {BenchDtype} from '../core/tasks/bench/models.js';
import type {QuantBits} from '../core/numeric/quant.js';
import type {SoftmaxKind} from '../core/hire/predictor/predictor.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {coreProgress, type TaskOptions} from './progress.js';
import type {SyntheticFfnSpec} from '../core/hire/ffn/synthetic-plans.js';

export type {BenchReport, BenchRow, BatchRow} from '../core/tasks/bench/run.js';
export type {SyntheticFfnSpec} from '../core/hire/ffn/synthetic-plans.js';

export interface BenchOptions extends TaskOptions {
  /** Model directory or bundle (default: the demo bundle, unless `shape` is given). */
  model?: string;
  /** A named synthetic shape (seeded random weights, cached), e.g. 'llama-110m', instead of `model`. */
  shape?: string;
  /** Weight dtype of the synthetic shape (default 'f32'). */
  dtype?: BenchDtype;
  /** Backend (default 'cpu') and its threads (default: every core). */
  backend?: string;
  threads?: number;
  /** Tokens decoded, timed (default 32). */
  tokens?: number;
  /** Prompt tokens prefilled first (default 16). */
  promptTokens?: number;
  /** Decode at this context: the prompt prefilled first has this many tokens (overrides promptTokens). */
  context?: number;
  /** KV cache element type: 'f32' (default) or 'f16' (cpu backend). */
  kvDtype?: 'f32' | 'f16';
  /**
   * Measure the machine's streaming-read bandwidth (reads 512 MB or more) and its multiply-add rate
   * first (default true).
   */
  probe?: boolean;
  /**
   * A HiRE-Softmax row on a model without a bundle: a random predictor of this kind and size
   * (speed does not depend on the values). Bundles always get a row from their own predictor.
   */
  hire?: {kind: SoftmaxKind; rank?: number; bits: QuantBits; kPrime: number} | null;
  /** Recall target for a bundle's k' table (default 0.99). */
  recall?: number;
  /**
   * HiRE-FFN rows on a model without a bundle: random predictors of this kind, reading this share
   * of each layer's groups (synthetic weights have no sparsity to predict). Bundles calibrated with
   * an FFN section always get FFN rows.
   */
  ffn?: SyntheticFfnSpec | null;
  /** Batch sizes also decoded together (dense and the sparsest mode). */
  batch?: number[];
  /** Time every row this many times, round-robin, and keep each row's median run (default 1). */
  repeat?: number;
  /**
   * Also compare the full sha256 of every bundle weight file with hire.json (reads every byte; the
   * size and a sampled fingerprint are always compared). Default false.
   */
  verifyWeights?: boolean;
}

export async function bench(options: BenchOptions = {}): Promise<BenchReport> {
  const progress = coreProgress('bench', options);
  return runBench({
    model: options.model ?? (options.shape ? undefined : DEMO_BUNDLE_DIR),
    shape: options.shape,
    dtype: options.dtype,
    backend: options.backend ?? 'cpu',
    threads: options.threads,
    tokens: options.tokens ?? 32,
    promptTokens: options.promptTokens ?? 16,
    context: options.context,
    kvDtype: options.kvDtype,
    probe: options.probe,
    hire: options.hire ?? null,
    recall: options.recall ?? 0.99,
    ffn: options.ffn,
    batch: options.batch,
    repeat: options.repeat,
    verifyWeights: options.verifyWeights,
    onProgress: (stage) => progress(stage),
    onWarning: options.onWarning,
  });
}
