/**
 * evaluate(): what HiRE-Softmax costs in quality on text calibration never saw: recall@k,
 * top-1 agreement, KL and perplexity, dense against each predictor. Never prints.
 */
import {evaluate as evaluateCore, type EvalReport, type EvaluateOptions as CoreEvaluateOptions} from '../core/tasks/evaluate/evaluate.js';
import {DEMO_BUNDLE_DIR} from '../core/model/defaults.js';
import {coreProgress, type TaskOptions} from './progress.js';
import {resolveModel} from './hub.js';

export type {EvalReport, EvalRow} from '../core/tasks/evaluate/evaluate.js';
export type {FfnEvalReport, FfnEvalRow} from '../core/tasks/evaluate/ffn-evaluate.js';

/**
 * The options of core evaluate() (documented there), with `bundle` optional and progress,
 * warnings and cancellation as TaskOptions.
 */
export type EvaluateOptions = Omit<CoreEvaluateOptions, 'bundle' | 'onProgress' | 'onWarning'> &
  Partial<Pick<CoreEvaluateOptions, 'bundle'>> &
  TaskOptions & {
    /** `bundle` may be a Hugging Face id; download it when the cache lacks it (default false). */
    download?: boolean;
  };

export async function evaluate(options: EvaluateOptions = {}): Promise<EvalReport> {
  const {onProgress: _p, onWarning, signal: _s, bundle, download, ...rest} = options;
  const resolved = await resolveModel(bundle ?? DEMO_BUNDLE_DIR, {download, onProgress: options.onProgress, signal: options.signal});
  return evaluateCore({
    ...rest,
    bundle: resolved.dir,
    onProgress: coreProgress('evaluation', options),
    onWarning,
  });
}
