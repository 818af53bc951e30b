/**
 * evaluate(): what HiRE-Softmax costs in quality on text calibration never saw: recall@k,
 * top-1 agreement, KL and perplexity, dense against each predictor. Never prints.
 */
import {evaluate as evaluateCore, type EvalReport} from '../core/hire/evaluate.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {EvalReport, EvalRow} from '../core/hire/evaluate.js';
export type {FfnEvalReport, FfnEvalRow} from '../core/hire/ffn-evaluate.js';

export interface EvaluateOptions extends TaskOptions {
  /** Bundle directory (default: the bundled demo bundle, models/shakespeare-topk.hire). */
  bundle?: string;
  /** Text files (default: the bundled corpus); their validation split is used. */
  data?: string[];
  /** Most evaluation tokens (default 2048). */
  tokens?: number;
  /** Tokens per sequence (default 128). */
  seqLen?: number;
  /** Top-k sizes (default: those the bundle measured). */
  ks?: number[];
  /** Candidate counts k' for every predictor and k (default: the bundle's k' per recall target, k, and the vocabulary size). */
  kPrimes?: number[];
  /** Predictor names (default: all in the bundle). */
  predictors?: string[];
  /** Backend (default 'cpu') and its threads (default: every core). */
  backend?: string;
  threads?: number;
  /** Evaluate HiRE-FFN (exact top-k against HiRE at each recall target) when the bundle has it (default true). */
  ffn?: boolean;
}

export async function evaluate(options: EvaluateOptions = {}): Promise<EvalReport> {
  const {onProgress: _p, onWarning, signal: _s, bundle, ...rest} = options;
  return evaluateCore({
    ...rest,
    bundle: bundle ?? DEMO_BUNDLE_DIR,
    onProgress: coreProgress('evaluation', options),
    onWarning,
  });
}
