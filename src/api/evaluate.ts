/**
 * evaluate(): what HiRE-Softmax costs in quality on text calibration never saw: recall@k,
 * top-1 agreement, KL and perplexity, dense against each predictor. writeRecallPlot() draws the
 * bundle's recall curves with a report's measurements marked. Never prints.
 */
import {evaluate as evaluateCore, type EvalReport, type EvaluateOptions as CoreEvaluateOptions} from '../core/tasks/evaluate/evaluate.js';
import {plotK, renderRecallPlot, writeFileAtomic} from '../core/tasks/evaluate/plot.js';
import {DEFAULTS} from './defaults.js';
import {withoutUndefined} from './options.js';
import {coreProgress, type TaskOptions} from './progress.js';

export type {EvalReport, EvalRow} from '../core/tasks/evaluate/evaluate.js';
export type {FfnEvalReport, FfnEvalRow} from '../core/tasks/evaluate/ffn-evaluate.js';

/**
 * The options of core evaluate() (documented there), with `bundle` optional and progress,
 * warnings and cancellation as TaskOptions. Missing options take DEFAULTS (DEFAULTS.evaluate).
 */
export type EvaluateOptions = Omit<CoreEvaluateOptions, 'bundle' | 'onProgress' | 'onWarning'> &
  Partial<Pick<CoreEvaluateOptions, 'bundle'>> &
  TaskOptions;

export async function evaluate(options: EvaluateOptions = {}): Promise<EvalReport> {
  const {onProgress: _p, onWarning, signal: _s, bundle, ...rest} = options;
  return evaluateCore({
    tokens: DEFAULTS.evaluate.tokens,
    seqLen: DEFAULTS.evaluate.seqLen,
    backend: DEFAULTS.backend,
    ...withoutUndefined(rest),
    bundle: bundle ?? DEFAULTS.demo.bundle,
    onProgress: coreProgress('evaluation', options),
    onWarning,
  });
}

/**
 * Writes the held-out recall curves a report carries (from hire.json) as an SVG to `file`
 * (a temporary file renamed into place), with the report's own measurements at that k marked.
 * The k plotted: the largest of `ks` that has a curve, else the k calibration selects at.
 * Returns that k.
 */
export function writeRecallPlot(report: EvalReport, file: string, options: {ks?: number[]} = {}): number | undefined {
  const k = plotK(report.curves, options.ks);
  const measured = report.rows.filter((r) => r.k === k).map((r) => ({predictor: r.predictor, kPrime: r.kPrime, recall: r.recall}));
  writeFileAtomic(file, renderRecallPlot(report.curves, {k, measured}));
  return k;
}
