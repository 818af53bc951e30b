/**
 * evaluate(): what HiRE-Softmax costs in quality on text calibration never saw: recall@k,
 * top-1 agreement, KL and perplexity, dense against each predictor. Never prints.
 */
import {evaluate as evaluateCore, type EvalReport, type EvaluateOptions as CoreEvaluateOptions} from '../core/tasks/evaluate/evaluate.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {EvalReport, EvalRow} from '../core/tasks/evaluate/evaluate.js';
export type {FfnEvalReport, FfnEvalRow} from '../core/tasks/evaluate/ffn-evaluate.js';

/**
 * The options of core evaluate() (documented there), with `bundle` optional and progress,
 * warnings and cancellation as TaskOptions.
 */
export type EvaluateOptions = Omit<CoreEvaluateOptions, 'bundle' | 'onProgress' | 'onWarning'> &
  Partial<Pick<CoreEvaluateOptions, 'bundle'>> &
  TaskOptions;

export async function evaluate(options: EvaluateOptions = {}): Promise<EvalReport> {
  const {onProgress: _p, onWarning, signal: _s, bundle, ...rest} = options;
  return evaluateCore({
    ...rest,
    bundle: bundle ?? DEMO_BUNDLE_DIR,
    onProgress: coreProgress('evaluation', options),
    onWarning,
  });
}
